#!/usr/bin/env python3
"""Independent reference vectors for the derived values of spec §11 (shared/spec/openpeer-protocol.md).

Every expected value here is computed with Python's hashlib/hmac and the `cryptography` package, never
with the Rust code it checks. Run from anywhere:

    python3 protocol/tests/vectors/make_vectors.py

It writes, next to itself:

* derivations.json - the same vectors as objects (pretty, sorted keys), for people and other tools;
* derivations.tsv  - one vector per line: kind<TAB>label<TAB>inputs...<TAB>expected, read by the Rust
                     unit tests with include_str! (the protocol crate has no JSON dependency).

Binary inputs and outputs are lowercase hex. No field may hold a tab or a newline.

Formulas (spec section in brackets):
  hex = lowercase hex; HMAC keys given as strings are their raw UTF-8 bytes.
  identity proof    [§5]   hex(HMAC-SHA1(secret, "identity-access-validate:"+uri+":"+nonce+":"+expires+":"+token+":"+purpose))
  lockbox proof     [§5]   hex(HMAC-SHA1(secret, "lockbox-access-validate:"+nonce+":"+expires+":"+token+":"+purpose))
  rolodex proof     [§5]   hex(HMAC-SHA1(SHA1(secret) as the RAW 20-byte digest, "rolodex-access-validate:"+nonce+...))
                           ([R]: the spec leaves raw-vs-hex digest open; see ROLODEX_KEY below)
  identity-sign     [§5]   hex(HMAC-SHA1(secret, "identity-sign:"+identity+":"+nonce+":"+expires+":"+token))
  findSecretProof   [§6.11] hex(HMAC-SHA1(findSecret, "proof:"+nonce+":"+expires))
  channel-map inner [§7.5] hex(HMAC-SHA1(relaySecret, "finder-relay-access-validate:"+token+":"+localContext+":channel-map"))
  channel-map proof [§7.5] hex(SHA1("proof:"+nonce+":"+context+":"+channel+":"+expires+":"+inner))
  splitEncrypt      [§2]   hex(iv)+":"+base64(AES-256-CFB128(key, iv, data))
  lockbox value key [§11]  HMAC-SHA256(lockboxKey, "lockbox:"+namespaceURL+":"+valueName)
  peer secret key   [§11]  SHA256(peerSecret)
  private peer file [§4.2] key = HMAC-SHA256(S, phrase+":"+salt64); iv = MD5(phrase+":"+salt64);
                           secretProof = hex(HMAC-SHA256(S, "proof:"+contactId))
  $appid            [§1.2] appID+s+random20+s+expiry+s+hex(HMAC-SHA1(appSecret, appID+s+random20+s+expiry))
  lockbox hash      [§11]  hex(SHA1(lockboxKey)); stableID [§4.3] hex(SHA1("stable-id:"+domain+":"+accountId))
  relogin name      [§11]  hex(SHA1("identity-relogin:"+uri+":"+provider))
  fingerprint       [§2]   hex(SHA1(DER SPKI)); contact id digest [§3] hex(SHA256("contact:"+canonical))
  TCP frame         [§6.11] u32 BE channel + u32 BE length + payload
  relay frame       [architecture §4] u32 BE channel + payload (binary WebSocket message)
"""

import base64
import hashlib
import hmac
import json
import os
import struct

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms
from cryptography.hazmat.decrepit.ciphers.modes import CFB  # CFB128: 16-byte feedback

HERE = os.path.dirname(os.path.abspath(__file__))

# The purposes of spec §5, plus "rolodex-access" (a rolodex server accepts it and "lockbox-access").
PURPOSES = [
    "lockbox-access",
    "lockbox-update",
    "rolodex-credentials-get",
    "identity-lookup-update",
    "lockbox-access-update",
    "lockbox-content-get",
    "lockbox-content-set",
    "lockbox-identities-update",
    "lockbox-namespace-grant-challenge-validate",
    "peer-services-get",
    "rolodex-contacts-get",
    "rolodex-namespace-grant-challenge-validate",
    "rolodex-access",
]

PHRASES = ["contact", "privatekey", "peer", "data"]


def h(data: bytes) -> str:
    return data.hex()


def hmac_sha1(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha1).digest()


def hmac_sha256(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()


def sha1(msg: bytes) -> bytes:
    return hashlib.sha1(msg).digest()


def aes_cfb(key: bytes, iv: bytes, data: bytes) -> bytes:
    enc = Cipher(algorithms.AES(key), CFB(iv)).encryptor()
    return enc.update(data) + enc.finalize()


def aes_cfb_decrypt(key: bytes, iv: bytes, data: bytes) -> bytes:
    dec = Cipher(algorithms.AES(key), CFB(iv)).decryptor()
    return dec.update(data) + dec.finalize()


def rolodex_key(access_secret: str) -> bytes:
    # ROLODEX_KEY: [R] the spec leaves raw-vs-hex open; we key with the RAW 20-byte SHA-1 digest.
    return sha1(access_secret.encode("utf-8"))


VECTORS: dict[str, list[dict]] = {}
# Column order of each kind in the TSV (after kind and label); the last column is "expected".
COLUMNS: dict[str, list[str]] = {}


def add(kind: str, label: str, **fields) -> None:
    cols = list(fields.keys())
    assert cols[-1] == "expected", kind
    if kind in COLUMNS:
        assert COLUMNS[kind] == cols, kind
    else:
        COLUMNS[kind] = cols
    row = {"label": label}
    for k, v in fields.items():
        v = str(v)
        assert "\t" not in v and "\n" not in v and "\r" not in v, (kind, label, k)
        row[k] = v
    VECTORS.setdefault(kind, []).append(row)


# ---------------------------------------------------------------- §5 access-secret proofs
SECRET = "943ec6e93c71591d3ee43464059b25ecd6312a07"
TOKEN = "91c4d836e216139f6fe4d417ca19afe78bab87d2"
NONCE = "a7c3e1f09b2d4c6e8f1a3b5d7c9e0f2a"
EXPIRES = 1700086400
IDENTITY = "identity://example.com/alice"

for p in PURPOSES:
    msg = f"identity-access-validate:{IDENTITY}:{NONCE}:{EXPIRES}:{TOKEN}:{p}"
    add("identity_access_proof", p, access_secret=SECRET, identity_uri=IDENTITY, nonce=NONCE,
        expires=EXPIRES, access_token=TOKEN, purpose=p, expected=h(hmac_sha1(SECRET.encode(), msg)))
    msg = f"lockbox-access-validate:{NONCE}:{EXPIRES}:{TOKEN}:{p}"
    add("lockbox_access_proof", p, access_secret=SECRET, nonce=NONCE, expires=EXPIRES,
        access_token=TOKEN, purpose=p, expected=h(hmac_sha1(SECRET.encode(), msg)))

# A second identity form and a non-ASCII secret, so the UTF-8 keying is exercised.
for label, secret, uri in [
    ("legacy-email", "s3cr\u00e9t-\u00fc", "identity:email:foo@bar.com"),
    ("phone", "x", "identity:phone:14165551212"),
]:
    msg = f"identity-access-validate:{uri}:{NONCE}:0:{TOKEN}:identity-lookup-update"
    add("identity_access_proof", label, access_secret=secret, identity_uri=uri, nonce=NONCE,
        expires=0, access_token=TOKEN, purpose="identity-lookup-update",
        expected=h(hmac_sha1(secret.encode(), msg)))

for p in ["rolodex-access", "lockbox-access", "rolodex-contacts-get",
          "rolodex-namespace-grant-challenge-validate", "rolodex-credentials-get"]:
    msg = f"rolodex-access-validate:{NONCE}:{EXPIRES}:{TOKEN}:{p}"
    add("rolodex_access_proof", p, access_secret=SECRET, nonce=NONCE, expires=EXPIRES,
        access_token=TOKEN, purpose=p, expected=h(hmac_sha1(rolodex_key(SECRET), msg)))

for label, identity in [("uri", IDENTITY), ("legacy", "identity:phone:14165551212")]:
    msg = f"identity-sign:{identity}:{NONCE}:{EXPIRES}:{TOKEN}"
    add("identity_sign_proof", label, access_secret=SECRET, identity=identity, nonce=NONCE,
        expires=EXPIRES, access_token=TOKEN, expected=h(hmac_sha1(SECRET.encode(), msg)))

# ---------------------------------------------------------------- §6.11 findSecretProof
FIND_SECRET = "Qm9iIGlzIGZpbmRhYmxlIGJ5IHRoaXMgc2VjcmV0IHN0cmluZyE"  # randomString(52)-like
for label, nonce, expires in [("typical", NONCE, EXPIRES), ("zero-expiry", "n", 0),
                              ("max-expiry", NONCE, 2**64 - 1)]:
    add("find_secret_proof", label, find_secret=FIND_SECRET, nonce=nonce, expires=expires,
        expected=h(hmac_sha1(FIND_SECRET.encode(), f"proof:{nonce}:{expires}")))

# ---------------------------------------------------------------- §7.5 channel-map
RELAY_SECRET = "7d1f6a0c3b5e4d2f8a9c0b1e2d3f4a5b"
RELAY_TOKEN = "relay-token-5f3c2b1a"
B_CONTEXT = "b-context-0123"
A_CONTEXT = "a-context-4567"
inner = h(hmac_sha1(RELAY_SECRET.encode(),
                    f"finder-relay-access-validate:{RELAY_TOKEN}:{B_CONTEXT}:channel-map"))
add("channel_map_inner", "b-side", relay_secret=RELAY_SECRET, relay_token=RELAY_TOKEN,
    local_context=B_CONTEXT, expected=inner)
for label, channel, expires in [("typical", 1234567, 1700000120), ("channel-max", 2**32 - 1, 1700000120),
                                ("channel-one", 1, 0)]:
    proof = h(sha1(f"proof:{NONCE}:{A_CONTEXT}:{channel}:{expires}:{inner}".encode()))
    add("channel_map_proof", label, nonce=NONCE, context=A_CONTEXT, channel=channel,
        expires=expires, inner=inner, expected=proof)

# ---------------------------------------------------------------- §2 splitEncrypt
KEY = bytes(range(0x00, 0x20))                      # 000102...1f
IV = bytes(range(0xf0, 0x100))                      # f0f1...ff
UTF8_TEXT = "Grüße aus Zürich — 你好, peer://example.com/ 🎉 " * 3
plaintexts = [(f"len-{n}", bytes((i * 7 + 3) & 0xFF for i in range(n))) for n in (0, 1, 15, 16, 17, 31, 32, 33)]
plaintexts.append(("utf8-text", UTF8_TEXT.encode("utf-8")))
for label, pt in plaintexts:
    ct = aes_cfb(KEY, IV, pt)
    assert len(ct) == len(pt)
    add("split_encrypt", label, key=h(KEY), iv=h(IV), plaintext=h(pt),
        expected=h(IV) + ":" + base64.b64encode(ct).decode())
# A second key/iv pair (an SHA-256 derived key, as icePasswordEncrypted uses).
k2 = hashlib.sha256(b"peer secret").digest()
iv2 = hashlib.md5(b"iv").digest()
pt2 = b"ice-password-0123456789"
add("split_encrypt", "ice-password", key=h(k2), iv=h(iv2), plaintext=h(pt2),
    expected=h(iv2) + ":" + base64.b64encode(aes_cfb(k2, iv2, pt2)).decode())

# ---------------------------------------------------------------- §11 splitEncrypt keys
LOCKBOX_KEY = bytes.fromhex("5e2b9c0f7a1d3e4b6c8f0a2d4e6b8c1f3a5d7e9b0c2e4f6a8d1b3c5e7f9a0b2d")
for label, ns, name in [("grant", "https://meta.openpeer.org/permission/private-peer-file", "privatePeer"),
                        ("utf8", "https://example.com/ns/ü", "wert")]:
    add("lockbox_value_key", label, lockbox_key=h(LOCKBOX_KEY), namespace_url=ns, value_name=name,
        expected=h(hmac_sha256(LOCKBOX_KEY, f"lockbox:{ns}:{name}")))
for label, ps in [("random-32", bytes(range(100, 132))), ("ascii", b"peer-secret-string"), ("empty", b"")]:
    add("peer_secret_key", label, peer_secret=h(ps), expected=h(hashlib.sha256(ps).digest()))

# ---------------------------------------------------------------- §4.2 private peer file
PPF_SECRET = b"dTOA5xBEm60qkCqhlNDnibRaGUhMWUCzEXXePWftuUx5eanK9pWv"  # randomString(52)
SALT64 = base64.b64encode(bytes(range(0x40, 0x60))).decode()
CONTACT_ID = hashlib.sha256(b"contact:example").hexdigest()
PLAINTEXTS = {
    "contact": f"peer://example.com/{CONTACT_ID}".encode(),
    "privatekey": bytes(range(0, 200)),
    "peer": b'{"peer":{"$version":"1"}}',
    "data": b'{"privatePeer":""}',
}
for phrase in PHRASES:
    key = hmac_sha256(PPF_SECRET, f"{phrase}:{SALT64}")
    iv = hashlib.md5(f"{phrase}:{SALT64}".encode()).digest()
    add("private_peer_file_key", phrase, secret_key=h(PPF_SECRET), phrase=phrase, salt64=SALT64,
        expected=h(key))
    add("private_peer_file_iv", phrase, phrase=phrase, salt64=SALT64, expected=h(iv))
    add("private_peer_file_value", phrase, secret_key=h(PPF_SECRET), phrase=phrase, salt64=SALT64,
        plaintext=h(PLAINTEXTS[phrase]),
        expected=base64.b64encode(aes_cfb(key, iv, PLAINTEXTS[phrase])).decode())
add("secret_proof", "synthetic", secret_key=h(PPF_SECRET), contact_id=CONTACT_ID,
    expected=h(hmac_sha256(PPF_SECRET, "proof:" + CONTACT_ID)))

# Real data: the April-2013 C++-generated private peer file (shared/vectors/c14-real,
# opjs dev/tests-server/assets/private-from-C.json @ 6083c9ce). In 2013 the key k was the raw
# SHA-1 digest of the passphrase (C14 uses the raw passphrase); the derivations over k are the same.
REAL_PASSPHRASE = b"dTOA5xBEm60qkCqhlNDnibRaGUhMWUCzEXXePWftuUx5eanK9pWveyuAr1Oxqg64"
REAL_SALT64 = "7gNwIJqU/K1Fy3RNvkzCrbJYcyQzeCNpSDHxFz0DzyU="
REAL_CONTACT_ID = "d82d6f216a1db12a101a93fa91629089d10231c292b8643e6504b039fdd55b72"
REAL_CONTACT = "peer://unstable.hookflash.me/" + REAL_CONTACT_ID
REAL_SECRET_PROOF = "3B092F18640146103F5F3D19D97109E0AA305D0FD36F917E4AB68334CC7CCD7D"  # upper case in the file
REAL_ENCRYPTED_CONTACT = ("mVTrkmX6HcCxgmGDkW2iiPjk1luoQRuvVx73/kUvH9drKuoaLRKiiWtRVagCGCwF5iciuj1Uqtp6SqpHMXhL"
                          "qYCJKE657XQ8YW4ooEDKFdCdUSImQ1lHBeHoOMHe")
real_k = sha1(REAL_PASSPHRASE)
real_proof = h(hmac_sha256(real_k, "proof:" + REAL_CONTACT_ID))
assert real_proof == REAL_SECRET_PROOF.lower()
add("secret_proof", "c14-real-2013", secret_key=h(real_k), contact_id=REAL_CONTACT_ID,
    expected=real_proof)
real_key = hmac_sha256(real_k, f"contact:{REAL_SALT64}")
real_iv = hashlib.md5(f"contact:{REAL_SALT64}".encode()).digest()
assert aes_cfb_decrypt(real_key, real_iv, base64.b64decode(REAL_ENCRYPTED_CONTACT)) == REAL_CONTACT.encode()
add("private_peer_file_value", "c14-real-2013-contact", secret_key=h(real_k), phrase="contact",
    salt64=REAL_SALT64, plaintext=h(REAL_CONTACT.encode()), expected=REAL_ENCRYPTED_CONTACT)

# ---------------------------------------------------------------- §1.2 $appid and §11 hashes
APP_SECRET = "app-shared-secret-\u00e9"
APP_ID = "com.example.app"
RANDOM20 = "Ab3dE5gH7jK9mN1pQ3sT"
for label, split, expiry in [("colon", ":", 1700000000), ("dash-hcs", "-", 1700000000), ("zero", ":", 0)]:
    base = f"{APP_ID}{split}{RANDOM20}{split}{expiry}"
    mac = h(hmac_sha1(APP_SECRET.encode(), base))
    add("app_id_mac", label, app_shared_secret=APP_SECRET, app_id=APP_ID, random20=RANDOM20,
        expiry=expiry, split=split, expected=mac)
    add("authorized_app_id", label, app_shared_secret=APP_SECRET, app_id=APP_ID, random20=RANDOM20,
        expiry=expiry, split=split, expected=f"{base}{split}{mac}")

for label, key in [("32-bytes", LOCKBOX_KEY), ("empty", b"")]:
    add("lockbox_hash", label, lockbox_key=h(key), expected=h(sha1(key)))
for label, domain, account in [("typical", "example.com", "3f2a9c1b-acc"), ("utf8", "bücher.example", "x")]:
    add("stable_id", label, lockbox_domain=domain, lockbox_account_id=account,
        expected=h(sha1(f"stable-id:{domain}:{account}".encode())))
for label, uri, provider in [("facebook", "identity://facebook.com/id3993232", "facebook.com"),
                             ("own", "identity://example.com/alice", "example.com")]:
    add("identity_relogin_value_name", label, uri=uri, provider=provider,
        expected=h(sha1(f"identity-relogin:{uri}:{provider}".encode())))

# A fixed byte string standing in for a DER SubjectPublicKeyInfo (the hash does not parse it).
SPKI = bytes.fromhex("30820122300d06092a864886f70d01010105000382010f003082010a0282010100") + bytes(range(256))[:40]
add("key_fingerprint", "fixed-bytes", spki_der=h(SPKI), expected=h(sha1(SPKI)))
add("key_fingerprint", "empty", spki_der="", expected=h(sha1(b"")))

CANON = ('{"sectionBundle":{"section":{"$id":"A","algorithm":"https://meta.openpeer.org/2013/07/21/'
         'jsonmsg#rsa-sha1-aes-cfb-32-16-16-sha256-md5","created":1700000000,"expires":1763072000},'
         '"signature":{"algorithm":"https://meta.openpeer.org/2012/12/14/jsonsig#rsa-sha1",'
         '"digestSigned":"AAAA","digestValue":"BBBB","key":{"x509Data":"CCCC"},"reference":"#A"}}}')
add("contact_id_digest", "section-a-bundle", canonical=CANON,
    expected=hashlib.sha256(("contact:" + CANON).encode()).hexdigest())
add("contact_id_digest", "utf8", canonical='{"x":"Zürich"}',
    expected=hashlib.sha256('contact:{"x":"Zürich"}'.encode()).hexdigest())

# ---------------------------------------------------------------- §6.11 framing
for label, channel, payload in [
    ("json-channel-0", 0, b'{"request":{"$handler":"peer-finder","$method":"session-keep-alive"}}'),
    ("keep-alive", 0, b"\n"),
    ("close-channel-7", 7, b""),
    ("relay-max-channel", 2**32 - 1, bytes(range(256)) * 2),
]:
    add("tcp_frame", label, channel=channel, payload=h(payload),
        expected=h(struct.pack(">II", channel, len(payload)) + payload))
for label, channel, payload in [("relay", 42, b"\x00\x01mls-record\xff"), ("empty-close", 1, b""),
                                ("max-channel", 2**32 - 1, b"x")]:
    add("relay_frame", label, channel=channel, payload=h(payload),
        expected=h(struct.pack(">I", channel) + payload))


def main() -> None:
    doc = {
        "about": "Independent vectors for spec §11, made by make_vectors.py (Python hashlib/hmac + cryptography). "
                 "Binary values are lowercase hex. derivations.tsv holds the same rows: "
                 "kind<TAB>label<TAB>columns...<TAB>expected.",
        "columns": COLUMNS,
        "vectors": VECTORS,
    }
    with open(os.path.join(HERE, "derivations.json"), "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=2, sort_keys=True, ensure_ascii=False)
        f.write("\n")
    with open(os.path.join(HERE, "derivations.tsv"), "w", encoding="utf-8", newline="\n") as f:
        f.write("# Generated by make_vectors.py; do not edit. kind\tlabel\tcolumns...\texpected\n")
        for kind in sorted(VECTORS):
            f.write(f"# {kind}\tlabel\t" + "\t".join(COLUMNS[kind]) + "\n")
            for row in VECTORS[kind]:
                f.write("\t".join([kind, row["label"]] + [row[c] for c in COLUMNS[kind]]) + "\n")


if __name__ == "__main__":
    main()
