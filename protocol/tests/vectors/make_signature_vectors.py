#!/usr/bin/env python3
"""Independent jsonsig vectors (spec §2, §11) from Python's `cryptography`, for both suites.

Writes signatures.tsv: one line per vector,
  suite <TAB> pkcs8 DER (hex) <TAB> canonical input <TAB> digestValue <TAB> digestSigned <TAB> x509Data
plus `single-hash` lines: an RSA signature made the JS way (PKCS#1 v1.5 SHA-1 over the canonical
bytes, one hash), which a C14 verifier must refuse. Keys are fixed (stored in the file once made),
so the vectors never change: rerunning reuses keys.tsv.
"""
import base64, hashlib, os
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

HERE = os.path.dirname(os.path.abspath(__file__))
KEYS = os.path.join(HERE, "signature-keys.tsv")

def load_or_make_keys():
    if os.path.exists(KEYS):
        rows = dict(line.rstrip("\n").split("\t") for line in open(KEYS))
        return (serialization.load_der_private_key(bytes.fromhex(rows["rsa"]), None),
                serialization.load_der_private_key(bytes.fromhex(rows["ed25519"]), None))
    r = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    e = ed25519.Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
    with open(KEYS, "w") as f:
        for name, k in (("rsa", r), ("ed25519", e)):
            der = k.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption())
            f.write(f"{name}\t{der.hex()}\n")
    return r, e

def b64(b): return base64.b64encode(b).decode()

def pkcs8(k):
    return k.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                           serialization.NoEncryption()).hex()

def spki(k):
    return b64(k.public_key().public_bytes(serialization.Encoding.DER,
                                           serialization.PublicFormat.SubjectPublicKeyInfo))

CANONICAL = [
    '{"section":{"$id":"A","b":"1"}}',
    '{"salt":{"$id":"0123abcd","#text":"c2FsdA=="}}',
    '{"certificate":{"$id":"c1","expires":1900000000,"key":{"x509Data":"AAAA"},"service":"salt"}}',
    '{"x":{"$id":"u","s":"é € 😀 \\" \\\\ \\n"}}',
]

rsa_key, ed_key = load_or_make_keys()
with open(os.path.join(HERE, "signatures.tsv"), "w") as out:
    for c in CANONICAL:
        data = c.encode()
        d1 = hashlib.sha1(data).digest()
        # C14: PKCS#1 v1.5 with SHA-1 over the 20-byte digest as the message (double hash).
        sig = rsa_key.sign(d1, padding.PKCS1v15(), hashes.SHA1())
        out.write("\t".join(["rsa-sha1", pkcs8(rsa_key), c, b64(d1), b64(sig), spki(rsa_key)]) + "\n")
        d2 = hashlib.sha256(data).digest()
        out.write("\t".join(["ed25519", pkcs8(ed_key), c, b64(d2), b64(ed_key.sign(data)), spki(ed_key)]) + "\n")
        single = rsa_key.sign(data, padding.PKCS1v15(), hashes.SHA1())
        out.write("\t".join(["single-hash", pkcs8(rsa_key), c, b64(d1), b64(single), spki(rsa_key)]) + "\n")
print("wrote signatures.tsv")
