"""DescribeSubnets names the subnet that is missing.

moto 5.2.5 answers DescribeSubnets(SubnetIds=[existing, missing]) with the
right code, InvalidSubnetID.NotFound, but its message may name the existing
subnet (it subtracts subnet objects from ids). EC2 names a missing one.
"""

from moto.ec2.exceptions import InvalidSubnetIdError
from moto.ec2.models.subnets import SubnetBackend

_moto_describe_subnets = SubnetBackend.describe_subnets


def install() -> None:
    SubnetBackend.describe_subnets = describe_subnets


def describe_subnets(self: SubnetBackend, subnet_ids: list[str] | None = None, filters=None):
    if subnet_ids:
        known = {subnet.id for subnet in _moto_describe_subnets(self)}
        missing = [subnet_id for subnet_id in subnet_ids if subnet_id not in known]
        if missing:
            raise InvalidSubnetIdError(missing[0])
    return _moto_describe_subnets(self, subnet_ids=subnet_ids, filters=filters)
