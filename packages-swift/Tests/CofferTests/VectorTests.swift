// The shared known answers of test-vectors/, read through the Swift bindings: identities, sealed
// objects sealed by Rust, CIDs, Bao outboards and ranges, derived identities, and a whole vault
// written by format v1, served by a Transport written in Swift.
import Foundation
import XCTest
@testable import Coffer

final class VectorTests: XCTestCase {
    func testIdentityVectors() throws {
        let vs = try XCTUnwrap(vectors("identities.json")["vectors"] as? [[String: Any]])
        XCTAssertFalse(vs.isEmpty)
        for v in vs {
            let id = try Identity.fromSeed(seed: hex(v["seed"] as! String))
            XCTAssertEqual(id.recipient().toText(), v["recipient"] as? String)
            XCTAssertEqual(id.toSecretString(), v["identity"] as? String)
            XCTAssertEqual(try Identity.parse(text: v["identity"] as! String).recipient(), id.recipient())
            XCTAssertEqual(id.sign(message: d("hello")), hex(v["signature_of_hello"] as! String))
            let r = try Recipient.parse(text: v["recipient"] as! String)
            XCTAssertEqual(r.x25519PublicKey(), hex(v["x25519_public"] as! String))
            XCTAssertEqual(r.ed25519PublicKey(), hex(v["ed25519_public"] as! String))
            XCTAssertTrue(r.verify(message: d("hello"), signature: hex(v["signature_of_hello"] as! String)))
            XCTAssertFalse(r.verify(message: d("hellO"), signature: hex(v["signature_of_hello"] as! String)))
            XCTAssertEqual("\(r)", v["recipient"] as? String, "Recipient prints its text form")
        }
        let fresh = Identity.generate()
        XCTAssertEqual(try Identity.parse(text: fresh.toFileContents()).recipient(), fresh.recipient())
    }

    /// sealed.json (format 2, signatures over the content) and sealed-v1.json (format 1, read
    /// only: its signatures cover the header alone, which `headerOnly` says).
    func testSealedVectorsOpenInSwift() throws {
        for (file, v1) in [("sealed.json", false), ("sealed-v1.json", true)] {
            let vs = try XCTUnwrap(vectors(file)["vectors"] as? [[String: Any]])
            XCTAssertFalse(vs.isEmpty, file)
            for v in vs {
                let name = "\(file) \(v["name"] ?? "")"
                let sealed = hex(v["sealed"] as! String)
                XCTAssertEqual(cidRaw(bytes: sealed), v["cid"] as? String, name)
                XCTAssertEqual(blake3Hex(data: sealed), v["blake3"] as? String, name)
                try cidVerify(cid: v["cid"] as! String, bytes: sealed)
                for seed in v["recipient_seeds"] as! [String] {
                    let opened = try `open`(identity: try Identity.fromSeed(seed: hex(seed)), sealed: sealed)
                    XCTAssertEqual(opened.plaintext, hex(v["plaintext"] as! String), name)
                    if let signer = v["signer_seed"] as? String {
                        XCTAssertEqual(opened.signer, try Identity.fromSeed(seed: hex(signer)).recipient(), name)
                        XCTAssertEqual(opened.headerOnly, v1, name)
                    } else {
                        XCTAssertNil(opened.signer, name)
                    }
                }
            }
        }
    }

    /// post-quantum.json: X-Wing recipients and did:key forms; objects sealed to them open here.
    func testPostQuantumAndDidKeyRecipients() async throws {
        let file = try vectors("post-quantum.json")
        let ids = try XCTUnwrap(file["identities"] as? [[String: Any]])
        XCTAssertFalse(ids.isEmpty)
        for v in ids {
            let id = try Identity.fromSeed(seed: hex(v["seed"] as! String))
            XCTAssertEqual(id.postQuantumRecipient().toText(), v["recipient_pq"] as? String)
            XCTAssertEqual(id.didKey(), v["did_key"] as? String)
            let pq = try Recipient.parse(text: v["recipient_pq"] as! String)
            XCTAssertTrue(pq.isPostQuantum())
            XCTAssertTrue(pq.sameIdentity(other: id.recipient()))
            let did = try Recipient.parse(text: v["did_key"] as! String)
            XCTAssertEqual(did.x25519PublicKey(), hex(v["did_x25519_public"] as! String))
            XCTAssertEqual(did.toDidKey(), v["did_key"] as? String)
        }
        for v in try XCTUnwrap(file["sealed"] as? [[String: Any]]) {
            let sealed = hex(v["sealed"] as! String)
            for seed in v["recipient_seeds"] as! [String] {
                let opened = try `open`(identity: try Identity.fromSeed(seed: hex(seed)), sealed: sealed)
                XCTAssertEqual(opened.plaintext, hex(v["plaintext"] as! String))
            }
        }
        let alice = Identity.generate(), bob = Identity.generate(), carol = Identity.generate()
        let sealed = try seal(plaintext: d("hybrid"),
                              recipients: [bob.postQuantumRecipient(), try Recipient.parse(text: carol.didKey())],
                              signer: alice)
        for who in [bob, carol] {
            let opened = try `open`(identity: who, sealed: sealed)
            XCTAssertEqual(opened.plaintext, d("hybrid"))
            XCTAssertTrue(try XCTUnwrap(opened.signer).sameIdentity(other: try Recipient.parse(text: alice.didKey())))
        }
        await expectError(2) { _ = try Recipient.parse(text: "did:key:z6LShLeXRTzevtwcfehaGEzCMyL3bNsAeKCwcqwJxyCo63yE") }
        // A post-quantum vault: its key is wrapped with X-Wing; another device reads it.
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("coffer-swift-pq-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let v = try await Vault.openDir(path: dir, identity: alice, vault: "pq", device: "laptop", mode: .create,
                                        options: VaultOptions(postQuantum: true))
        _ = try await v.put(key: "a.txt", data: d("quantum-safe"))
        let phone = try await Vault.openDir(path: dir, identity: alice, vault: "pq", device: "phone", mode: .open)
        _ = try await phone.sync()
        let got = try await phone.get(key: "a.txt")
        XCTAssertEqual(got, d("quantum-safe"))
    }

    func testSwiftSealsAndOpens() throws {
        let alice = Identity.generate(), bob = Identity.generate()
        let plaintext = pattern(200_000)
        let sealed = try seal(plaintext: plaintext, recipients: [bob.recipient(), alice.recipient()],
                              signer: alice, segmentSizeLog2: 12)
        let opened = try `open`(identity: bob, sealed: sealed)
        XCTAssertEqual(opened.plaintext, plaintext)
        XCTAssertEqual(opened.signer, alice.recipient())
        XCTAssertFalse(opened.headerOnly, "a new object's signature covers its content")
        XCTAssertEqual(try `open`(identity: alice, sealed: sealed).plaintext, plaintext)
    }

    func testCidAndOutboardVectors() throws {
        for v in try XCTUnwrap(vectors("cid.json")["vectors"] as? [[String: Any]]) {
            XCTAssertEqual(cidRaw(bytes: hex(v["bytes"] as! String)), v["cid_raw"] as? String)
            XCTAssertEqual(cidDagCbor(bytes: hex(v["bytes"] as! String)), v["cid_dag_cbor"] as? String)
        }
        let cases = try XCTUnwrap(vectors("outboard.json")["cases"] as? [[String: Any]])
        XCTAssertFalse(cases.isEmpty)
        for c in cases {
            let len = int(c["input_len"])
            let data = pattern(len)
            let ob = computeOutboard(data: data)
            XCTAssertEqual(ob.root, c["root"] as? String, "root of \(len)")
            XCTAssertEqual(ob.outboard, hex(c["outboard"] as! String), "outboard of \(len)")
            try verifyOutboard(root: ob.root, data: data, outboard: ob.outboard)
            for r in c["ranges"] as! [[String: Any]] {
                let (s, e) = (UInt64(int(r["start"])), UInt64(int(r["end"])))
                let cov = try coveringRange(len: UInt64(len), start: s, end: e)
                XCTAssertEqual(cov, ByteRange(start: UInt64(int(r["covering_start"])), end: UInt64(int(r["covering_end"]))))
                let got = try verifyRange(root: ob.root, len: UInt64(len), outboard: ob.outboard, start: s, end: e,
                                          covering: data.subdata(in: Int(cov.start)..<Int(cov.end)))
                XCTAssertEqual(got, data.subdata(in: Int(s)..<Int(e)))
            }
        }
    }

    func testDerivedIdentityVectors() async throws {
        let all = try vectors("derived-identities.json")
        let pass = try XCTUnwrap(all["passphrase"] as? [String: Any])
        let pv = try XCTUnwrap((pass["vectors"] as? [[String: Any]])?.first { $0["default_params"] as? Bool == true })
        // Identity.derive runs Argon2id off the caller's thread; the result is the vector's.
        let id = try await Identity.derive(passphrase: pv["passphrase"] as! String, account: pv["account"] as! String)
        XCTAssertEqual(id.recipient().toText(), pv["recipient"] as? String)
        XCTAssertEqual(id.toSecretString(), pv["identity"] as? String)

        let wallet = try XCTUnwrap(all["wallet"] as? [String: Any])
        XCTAssertEqual(walletMessage(), wallet["message"] as? String)
        let wvs = try XCTUnwrap(wallet["vectors"] as? [[String: Any]])
        XCTAssertFalse(wvs.isEmpty)
        for wv in wvs {
            let w = try Identity.fromWalletSignature(signature: hex(wv["signature"] as! String))
            XCTAssertEqual(w.recipient().toText(), wv["recipient"] as? String)
        }
        for bad in try XCTUnwrap(wallet["invalid"] as? [[String: Any]]) {
            await expectError(2) { _ = try Identity.fromWalletSignature(signature: hex(bad["signature"] as! String)) }
        }
    }

    /// test-vectors/v1-vault.json holds every block and head of a vault written by format v1 (two
    /// devices, versions, a copy, a delete, two shares to Bob). A Swift transport serves them; the
    /// owner opens the vault and Bob reads what was shared with him.
    func testV1VaultServedBySwiftTransport() async throws {
        let v = try vectors("v1-vault.json")
        let t = MemoryTransport()
        t.blocks = try XCTUnwrap(v["blocks"] as? [String: String]).mapValues(hex)
        t.seedHeads(try XCTUnwrap(v["heads"] as? [String: [String: String]]).mapValues { $0.mapValues(hex) })
        let owner = try Identity.fromSeed(seed: hex(v["owner_seed"] as! String))
        let vault = try await Vault.openTransport(transport: t, identity: owner, vault: v["vault"] as! String,
                                                  device: "swift", mode: .open)
        _ = try await vault.sync()
        let expected = try XCTUnwrap(v["objects"] as? [String: String])
        let listed = try await vault.list(params: nil)
        XCTAssertEqual(listed.keys, expected.keys.sorted())
        for (key, text) in expected where !key.hasSuffix(".bin") {
            let got = try await vault.get(key: key)
            XCTAssertEqual(str(got), text, key)
        }
        try await eq(try await vault.get(key: d("photos/big.bin")), pattern(40_000))
        try await eq(try await vault.tags(key: d("photos/big.bin")), ["album": "2026"])
        let notes = try await vault.versions(key: d("notes/a.txt"))
        XCTAssertEqual(notes.count, 2)
        XCTAssertEqual(notes.last?.version, v["first_version_of_notes_a"] as? String)
        for gone in v["deleted"] as! [String] {
            await expectError(5) { _ = try await vault.get(key: gone) }
        }

        let bob = try Identity.fromSeed(seed: hex(v["recipient_seed"] as! String))
        let store = CofferStore.transport(transport: t)
        let book = ShareBook()
        for entry in try await readInbox(store: store, identity: bob) {
            let share = try XCTUnwrap(entry.share, entry.error ?? "refused")
            XCTAssertEqual(try book.accept(share: share, nowMs: nowMs()), .new)
        }
        XCTAssertEqual(book.len(), 2)
        let photos = try XCTUnwrap(book.shares().first {
            if case .prefix = $0.scope() { return true } else { return false }
        })
        let reader = try await SharedReader.open(store: store, share: photos)
        try await eq(try await reader.get(key: d("photos/cat.jpg")), d("meow"))
        await expectError(1) { _ = try await reader.get(key: d("notes/a.txt")) }
    }
}
