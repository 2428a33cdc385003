#!/usr/bin/env python3
"""A Docker registry token server for Skiff's tests (the Bearer flow of the distribution spec).

Usage: token_server.py DIR PORTFILE USER PASSWORD
  DIR/token.key, DIR/token.pem: the RS256 signing key and its self-signed certificate (the
  registry trusts the certificate through its `rootcertbundle`).
GET /token?service=S&scope=repository:NAME:pull — with Basic USER:PASSWORD the token grants the
scope; without (or with wrong) credentials it grants nothing, so the registry refuses the pull.
Every request is counted in DIR/requests.
"""
import base64
import http.server
import json
import os
import sys
import time
import urllib.parse

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

ROOT, PORTFILE, USER, PASSWORD = sys.argv[1:5]
KEY = serialization.load_pem_private_key(open(os.path.join(ROOT, "token.key"), "rb").read(), password=None)
CERT = x509.load_pem_x509_certificate(open(os.path.join(ROOT, "token.pem"), "rb").read())
CERT_DER = base64.b64encode(CERT.public_bytes(serialization.Encoding.DER)).decode()


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def token(service, access):
    header = {"alg": "RS256", "typ": "JWT", "x5c": [CERT_DER]}
    now = int(time.time())
    claims = {"iss": "skiff-token-issuer", "sub": USER, "aud": service, "exp": now + 300, "nbf": now - 10,
              "iat": now, "jti": str(now) + str(os.getpid()), "access": access}
    signing_input = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())
    signature = KEY.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return signing_input + "." + b64url(signature)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        with open(os.path.join(ROOT, "requests"), "a") as out:
            out.write(self.path + "\n")
        query = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
        service = query.get("service", [""])[0]
        expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        access = []
        if self.headers.get("Authorization") == expected:
            for scope in query.get("scope", []):
                kind, name, actions = scope.split(":", 2) if scope.count(":") >= 2 else ("", "", "")
                if kind == "repository":
                    access.append({"type": "repository", "name": name, "actions": actions.split(",")})
        body = json.dumps({"token": token(service, access), "expires_in": 300}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
with open(PORTFILE + ".tmp", "w") as out:
    out.write(str(server.server_address[1]))
os.rename(PORTFILE + ".tmp", PORTFILE)
server.serve_forever()
