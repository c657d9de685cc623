"""pilot-light's AWS emulator: moto's server plus what the operator's tests need from it.

See README.md beside this package for what the extension adds and the control API.
"""
