"""Client certificates whose keys are in the formats other tools write, for
the TLS tests: PKCS#1 (`BEGIN RSA PRIVATE KEY`, as NVFlare's provisioning
writes) and SEC1 (`BEGIN EC PRIVATE KEY`, as `openssl ecparam -genkey`
writes), each signed by the test CA.

Usage: keys.py DIR   (reads DIR/ca.pem and DIR/ca.key; writes DIR/pkcs1.{pem,key}
and DIR/sec1.{pem,key}); prints the first line of each key as JSON.
"""

import datetime
import json
import os
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID


def issue(ca_cert, ca_key, name, key, out_dir):
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    with open(os.path.join(out_dir, f"{name}.key"), "wb") as f:
        f.write(pem)
    with open(os.path.join(out_dir, f"{name}.pem"), "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    return pem.decode().splitlines()[0]


def main(out_dir):
    with open(os.path.join(out_dir, "ca.pem"), "rb") as f:
        ca_cert = x509.load_pem_x509_certificate(f.read())
    with open(os.path.join(out_dir, "ca.key"), "rb") as f:
        ca_key = serialization.load_pem_private_key(f.read(), password=None)
    heads = {
        "pkcs1": issue(ca_cert, ca_key, "pkcs1", rsa.generate_private_key(65537, 2048), out_dir),
        "sec1": issue(ca_cert, ca_key, "sec1", ec.generate_private_key(ec.SECP256R1()), out_dir),
    }
    print(json.dumps(heads))


if __name__ == "__main__":
    main(sys.argv[1])
