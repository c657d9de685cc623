"""Root elements of S3 XML answers.

moto 5.2.5 serializes some S3 answers as ``<{Operation}Response>``; S3 names the root after the
output shape (``<VersioningConfiguration>``...). botocore ignores the root's name, the Rust SDK
checks it and fails with "invalid root". The names come from the S3 Smithy model (``@xmlName``
of the output or of its payload member).
"""

import re

ROOTS = {
    "GetBucketVersioning": "VersioningConfiguration",
    "GetBucketReplication": "ReplicationConfiguration",
    "GetBucketTagging": "Tagging",
    "GetBucketLocation": "LocationConstraint",
    "GetBucketLifecycleConfiguration": "LifecycleConfiguration",
    "GetBucketEncryption": "ServerSideEncryptionConfiguration",
    "GetBucketPolicyStatus": "PolicyStatus",
    "GetPublicAccessBlock": "PublicAccessBlockConfiguration",
    "GetBucketAcl": "AccessControlPolicy",
    "GetObjectTagging": "Tagging",
}


def fix_root(action: str, body: bytes) -> bytes:
    """Renames a ``<{action}Response>`` root to S3's own root element name."""
    root = ROOTS.get(action)
    if root is None or not body:
        return body
    wrong = f"{action}Response".encode()
    if wrong not in body[:300]:
        return body
    body = re.sub(rb"<" + wrong + rb"(?=[\s/>])", b"<" + root.encode(), body, count=1)
    return re.sub(rb"</" + wrong + rb">\s*$", b"</" + root.encode() + b">", body, count=1)
