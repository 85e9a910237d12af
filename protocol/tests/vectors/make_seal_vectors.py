#!/usr/bin/env python3
"""Independent vectors of encryption to a peer's key (architecture §4), from Python's
`cryptography`: the Ed25519 sealed box (Ed25519 → X25519 by the birational map, X25519,
HKDF-SHA256 with salt = ephemeral ‖ recipient and info "openpeer seal v1", AES-256-GCM) with
fixed ephemeral keys and nonces, and RSA-OAEP-SHA1 ciphertexts (random, so only opened).

Writes seal.tsv: suite, recipient PKCS#8 (hex), plaintext (hex), ephemeral secret (hex or -),
nonce (hex or -), sealed wire value (base64). Uses the fixed keys of signature-keys.tsv."""
import base64, os
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

HERE = os.path.dirname(os.path.abspath(__file__))
P = 2**255 - 19
rows = dict(line.rstrip("\n").split("\t") for line in open(os.path.join(HERE, "signature-keys.tsv")))
rsa_der, ed_der = bytes.fromhex(rows["rsa"]), bytes.fromhex(rows["ed25519"])
rsa_key = serialization.load_der_private_key(rsa_der, None)
ed_key = serialization.load_der_private_key(ed_der, None)

def ed_to_x(public: bytes) -> bytes:
    y = int.from_bytes(public, "little") & ((1 << 255) - 1)
    u = (1 + y) * pow(1 - y, P - 2, P) % P
    return u.to_bytes(32, "little")

def raw(pub):
    return pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)

recipient_x = ed_to_x(raw(ed_key.public_key()))
out = []
for i, plaintext in enumerate([b"relay secret", bytes(range(64))]):
    ephemeral = bytes([0x40 + i] * 32)
    nonce = bytes([0x10 + i] * 12)
    e = X25519PrivateKey.from_private_bytes(ephemeral)
    e_pub = raw(e.public_key())
    shared = e.exchange(X25519PublicKey.from_public_bytes(recipient_x))
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=e_pub + recipient_x, info=b"openpeer seal v1").derive(shared)
    sealed = e_pub + nonce + AESGCM(key).encrypt(nonce, plaintext, None)
    out.append(["ed25519", ed_der.hex(), plaintext.hex(), ephemeral.hex(), nonce.hex(), base64.b64encode(sealed).decode()])
for plaintext in [b"relay secret", b""]:
    ct = rsa_key.public_key().encrypt(plaintext, padding.OAEP(mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(), label=None))
    out.append(["rsa-oaep-sha1", rsa_der.hex(), plaintext.hex(), "-", "-", base64.b64encode(ct).decode()])
with open(os.path.join(HERE, "seal.tsv"), "w") as f:
    for row in out:
        f.write("\t".join(row) + "\n")
print("wrote seal.tsv")
