"""The Python peer of the Lambda benchmark (tests/scripts/lambda-bench.sh): the same custom
resources as the Rust functions, written the way a small Python Lambda would be, with boto3.

    python lambda_peer.py secure-password | private-certificate

It holds what a Python function on the provided runtime pays for and nothing more: the
interpreter, boto3 (and, for the certificate, `cryptography`), its handler, and a loop over the
Lambda Runtime API with urllib (instead of awslambdaric, which would add its own memory and start
time). Clients are made at init, as Python Lambdas usually do. Each Create does the calls the Rust
function does and answers CloudFormation with a PUT to the ResponseURL (no content type); a
failure answers FAILED with the error. Update and Delete are not part of the benchmark.
"""

import hashlib
import json
import os
import secrets
import sys
import time
import traceback
import urllib.request

import boto3

API = "http://%s/2018-06-01/runtime" % os.environ["AWS_LAMBDA_RUNTIME_API"]
KIND = sys.argv[1]


def marker(event):
    return "Managed by CloudFormation: %s %s in %s" % (
        event["ResourceType"],
        event["LogicalResourceId"],
        event["StackId"],
    )


def arn_parts(event):
    # arn:aws:cloudformation:REGION:ACCOUNT:stack/...
    _, partition, _, region, account, _ = event["StackId"].split(":", 5)
    return partition, region, account


# ---------------------------------------------------------------- Custom::SecurePassword

if KIND == "secure-password":
    SSM = boto3.client("ssm")

    def create(event):
        props = event["ResourceProperties"]
        name = props["ParameterName"]
        length = int(props.get("Length", 32))
        exclude = props.get("ExcludeCharacters", "\"'\\`")
        alphabet = [chr(c) for c in range(ord("!"), ord("~") + 1) if chr(c) not in exclude]
        password = "".join(secrets.choice(alphabet) for _ in range(length))
        put = {
            "Name": name,
            "Value": password,
            "Type": "SecureString",
            "Description": marker(event),
            "Tier": "Intelligent-Tiering",
            "Overwrite": False,
        }
        if props.get("KmsKeyId"):
            put["KeyId"] = props["KmsKeyId"]
        tags = [{"Key": t["Key"], "Value": t["Value"]} for t in props.get("Tags", [])]
        if tags:
            put["Tags"] = tags
        version = SSM.put_parameter(**put)["Version"]
        partition, region, account = arn_parts(event)
        return name, {
            "ParameterName": name,
            "ParameterArn": "arn:%s:ssm:%s:%s:parameter%s" % (partition, region, account, name),
            "Version": str(version),
        }

# ---------------------------------------------------------------- Custom::PrivateCertificate

elif KIND == "private-certificate":
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    PCA = boto3.client("acm-pca")
    SSM = boto3.client("ssm")
    TEMPLATES = {
        "server": "EndEntityServerAuthCertificate/V1",
        "client": "EndEntityClientAuthCertificate/V1",
        "server-and-client": "EndEntityCertificate/V1",
    }

    def create(event):
        props = event["ResourceProperties"]
        ca = props["CertificateAuthorityArn"]
        prefix = props["ParameterPrefix"].rstrip("/")
        names = [prefix + "/private-key", prefix + "/certificate", prefix + "/chain", prefix + "/superseded"]
        described = PCA.describe_certificate_authority(CertificateAuthorityArn=ca)["CertificateAuthority"]
        if described["Status"] != "ACTIVE":
            raise RuntimeError("certificate authority %s is %s, not ACTIVE" % (ca, described["Status"]))
        signing = described["CertificateAuthorityConfiguration"]["SigningAlgorithm"]
        existing = SSM.describe_parameters(
            ParameterFilters=[{"Key": "Name", "Option": "Equals", "Values": names}]
        )["Parameters"]
        for p in existing:
            if not p.get("Description", "").startswith(marker(event)):
                raise RuntimeError("SSM parameter %s already exists and is not managed by this resource" % p["Name"])

        key = ec.generate_private_key(ec.SECP256R1())
        sans = [x509.DNSName(n) for n in props.get("DnsNames", [])]
        sans += [x509.IPAddress(ipaddress.ip_address(a)) for a in props.get("IpAddresses", [])]
        builder = x509.CertificateSigningRequestBuilder().subject_name(
            x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, props["CommonName"])])
        )
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        csr = builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)

        token = hashlib.sha256(
            b"\0".join(event[k].encode() for k in ("StackId", "LogicalResourceId", "RequestId")) + b"\0"
        ).hexdigest()[:32]
        partition = arn_parts(event)[0]
        cert_arn = PCA.issue_certificate(
            CertificateAuthorityArn=ca,
            Csr=csr,
            SigningAlgorithm=signing,
            TemplateArn="arn:%s:acm-pca:::template/%s" % (partition, TEMPLATES[props.get("Usage", "server")]),
            Validity={"Value": int(props.get("ValidityDays", 365)), "Type": "DAYS"},
            IdempotencyToken=token,
        )["CertificateArn"]
        pause = 0.25
        while True:
            try:
                got = PCA.get_certificate(CertificateAuthorityArn=ca, CertificateArn=cert_arn)
                break
            except PCA.exceptions.RequestInProgressException:
                time.sleep(pause)
                pause = min(pause * 2, 3)
        certificate = got["Certificate"].rstrip("\n") + "\n"
        chain = got.get("CertificateChain", "").strip()
        if not chain:
            # moto leaves the chain of a root-issued certificate empty (as the Rust function notes).
            ca_cert = PCA.get_certificate_authority_certificate(CertificateAuthorityArn=ca)
            chain = "\n".join(c.strip() for c in (ca_cert["Certificate"], ca_cert.get("CertificateChain", "")) if c.strip())
        chain += "\n"
        cert = x509.load_pem_x509_certificate(certificate.encode())
        spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        if cert.public_key().public_bytes(*spki) != key.public_key().public_bytes(*spki):
            raise RuntimeError("ACM PCA returned certificate %s for a different key" % cert_arn)
        serial = "%x" % cert.serial_number
        serial = ":".join(serial.rjust(len(serial) + len(serial) % 2, "0")[i : i + 2] for i in range(0, len(serial) + len(serial) % 2, 2))
        not_after = cert.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ")

        description = "%s certificate %s" % (marker(event), cert_arn)
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        for name, value, secure in ((names[2], chain, False), (names[1], certificate, False), (names[0], pem, True)):
            put = {
                "Name": name,
                "Value": value,
                "Type": "SecureString" if secure else "String",
                "Description": description,
                "Tier": "Intelligent-Tiering",
                "Overwrite": True,
            }
            if secure and props.get("KmsKeyId"):
                put["KeyId"] = props["KmsKeyId"]
            SSM.put_parameter(**put)
        return cert_arn, {
            "CertificateArn": cert_arn,
            "Serial": serial,
            "NotAfter": not_after,
            "KeyParameter": names[0],
            "CertificateParameter": names[1],
            "ChainParameter": names[2],
        }

else:
    sys.exit("usage: lambda_peer.py secure-password|private-certificate")


# ---------------------------------------------------------------- the CloudFormation answer


def answer(event, status, physical_id, data=None, reason=None):
    body = {
        "Status": status,
        "PhysicalResourceId": physical_id,
        "StackId": event["StackId"],
        "RequestId": event["RequestId"],
        "LogicalResourceId": event["LogicalResourceId"],
        "NoEcho": False,
        "Data": data or {},
    }
    if reason:
        body["Reason"] = reason
    # A pre-signed S3 URL is signed without a content type; urllib would add a form one.
    put = urllib.request.Request(
        event["ResponseURL"], data=json.dumps(body).encode(), method="PUT", headers={"Content-Type": ""}
    )
    urllib.request.urlopen(put, timeout=30).read()


def handle(event):
    if event["RequestType"] != "Create":
        answer(event, "FAILED", event.get("PhysicalResourceId", "none"), reason="the peer only creates")
        return
    try:
        physical_id, data = create(event)
    except Exception as e:  # noqa: BLE001 - every failure must reach CloudFormation
        traceback.print_exc()
        answer(event, "FAILED", "create-failed:" + event["RequestId"], reason=str(e)[:1000])
        return
    answer(event, "SUCCESS", physical_id, data)


# ---------------------------------------------------------------- the Runtime API loop

while True:
    with urllib.request.urlopen(API + "/invocation/next") as r:
        request_id = r.headers["Lambda-Runtime-Aws-Request-Id"]
        event = json.loads(r.read())
    handle(event)
    done = urllib.request.Request(API + "/invocation/%s/response" % request_id, data=b"null", method="POST")
    urllib.request.urlopen(done).read()
