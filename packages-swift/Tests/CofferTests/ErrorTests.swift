// Every error code family thrown by the Rust core and caught in Swift as a typed CofferError with
// its stable code (the table is in the README). Code 13 (Internal, a panic caught at the boundary)
// has no input that triggers it; its mapping is covered by the exhaustive switch in
// Coffer+Extensions.swift, which stops compiling when a variant is added.
import Foundation
import XCTest
@testable import Coffer

final class ErrorTests: XCTestCase {
    private func sealedToMe() throws -> (Identity, Data) {
        let me = Identity.generate()
        return (me, try seal(plaintext: pattern(100_000), recipients: [me.recipient()], signer: me))
    }

    func testInvalidInputIs1() async throws {
        let e = await expectError(1) { _ = try seal(plaintext: d("x"), recipients: []) }
        if case .InvalidInput = e {} else { XCTFail("not the InvalidInput case: \(String(describing: e))") }
        await expectError(1) { try cidVerify(cid: "bafy-not-a-cid", bytes: d("x")) }
        let v = try await Vault.openDir(path: try tempDir().path, identity: Identity.generate(), vault: "v", device: "d", mode: .create)
        try await v.put(key: "k", data: d("abc"))
        await expectError(1) { _ = try await v.getRange(key: d("k"), start: 2, end: 1) }
        await expectError(1) { _ = try await v.put(key: Data(), data: d("x"), options: nil) }
    }

    func testInvalidKeyIs2AndNeverEchoesTheSecret() async throws {
        let v = try XCTUnwrap(vectors("identities.json")["vectors"] as? [[String: Any]]).first!
        let secret = v["identity"] as! String
        for bad in ["", "coffer1", "not a key", secret] {
            await expectError(2) { _ = try Recipient.parse(text: bad) }
        }
        await expectError(2) { _ = try Identity.fromSeed(seed: Data(count: 31)) }
        await expectError(2) { _ = try Identity.fromPassphrase(passphrase: "", account: "a@example.com") }
        let e = await expectError(2) { _ = try Identity.parse(text: String(secret.dropLast(2)) + "QQ") }
        let middle = String(secret.dropFirst(20).prefix(20))
        XCTAssertFalse("\(String(describing: e)) \(e?.localizedDescription ?? "")".contains(middle), "the secret is echoed")
    }

    func testWrongIdentityIs3() async throws {
        let (_, sealed) = try sealedToMe()
        let e = await expectError(3) { _ = try `open`(identity: Identity.generate(), sealed: sealed) }
        if case .WrongIdentity = e {} else { XCTFail("not the WrongIdentity case") }
    }

    func testCorruptIs4() async throws {
        let (me, sealed) = try sealedToMe()
        var tampered = sealed
        tampered[tampered.count - 3] ^= 1
        await expectError(4) { _ = try `open`(identity: me, sealed: tampered) }
        await expectError(4) { _ = try `open`(identity: me, sealed: sealed.prefix(sealed.count - 1)) }
        await expectError(4) { try cidVerify(cid: cidRaw(bytes: sealed), bytes: tampered) }
        // A Swift transport that hands back other bytes is caught by verification.
        let t = MemoryTransport()
        let v = try await Vault.openTransport(transport: t, identity: me, vault: "n", device: "a", mode: .create)
        try await v.put(key: "a", data: d("1"))
        t.blocks = t.blocks.mapValues { _ in d("forged") }
        await expectError(4) { _ = try await v.get(key: "a") }
    }

    func testNotFoundNoSuchVaultAlreadyExistsAre5To7() async throws {
        let dir = try tempDir().path
        let me = Identity.generate()
        await expectError(6) { _ = try await Vault.openDir(path: dir, identity: me, vault: "v", device: "d", mode: .open) }
        let v = try await Vault.openDir(path: dir, identity: me, vault: "v", device: "d", mode: .create)
        await expectError(7) { _ = try await Vault.openDir(path: dir, identity: me, vault: "v", device: "e", mode: .create) }
        await expectError(5) { _ = try await v.get(key: "missing") }
        await expectError(5) { try await v.delete(key: "missing") }
        await expectError(5) { _ = try await v.head(key: d("missing")) }
    }

    func testPreconditionFailedIs8() async throws {
        let v = try await Vault.openDir(path: try tempDir().path, identity: Identity.generate(), vault: "v", device: "d", mode: .create)
        let first = try await v.put(key: "k", data: d("1"))
        try await v.put(key: "k", data: d("2"))
        await expectError(8) { _ = try await v.put(key: d("k"), data: d("3"), options: PutParams(ifAbsent: true)) }
        await expectError(8) { _ = try await v.put(key: d("k"), data: d("3"), options: PutParams(ifMatch: first.version)) }
        try await eq(try await v.get(key: "k"), d("2"), "a failed conditional put changed the object")
    }

    /// What a Swift transport throws becomes a store error with its text: Unavailable → 9,
    /// AccessDenied → 10, anything else → 11; the vault keeps working afterwards.
    func testTransportErrorsAre9To11() async throws {
        let t = MemoryTransport()
        let v = try await Vault.openTransport(transport: t, identity: Identity.generate(), vault: "n", device: "a", mode: .create)
        try await v.put(key: "a", data: d("1"))
        t.failWith = TransportError.Unavailable(detail: "network down")
        let e9 = await expectError(9) { try await v.put(key: "b", data: d("2")) }
        XCTAssertTrue(e9?.detail.contains("network down") ?? false)
        t.failWith = TransportError.AccessDenied(detail: "no token")
        await expectError(10) { try await v.put(key: "b", data: d("2")) }
        struct Boom: Error, CustomStringConvertible { var description: String { "boom from Swift" } }
        t.failWith = Boom()
        await expectError(11) { try await v.put(key: "b", data: d("2")) }
        t.failWith = nil
        try await v.put(key: "b", data: d("2"))
        try await eq(try await v.get(key: "b"), d("2"))
    }

    func testUnsupportedIs12() async throws {
        let (me, sealed) = try sealedToMe()
        var future = sealed
        future[6] = 0xEE // the format version byte (docs/FORMAT.md): one this build does not know
        let e = await expectError(12) { _ = try `open`(identity: me, sealed: future) }
        if case .Unsupported = e {} else { XCTFail("not the Unsupported case") }
    }

    func testErrorsDescribeThemselves() async throws {
        let e = await expectError(2) { _ = try Recipient.parse(text: "nope") }
        XCTAssertTrue(e?.localizedDescription.contains("InvalidKey") ?? false, e?.localizedDescription ?? "")
        XCTAssertEqual(CofferError.Internal(code: 13, detail: "x").code, 13)
        XCTAssertEqual(CofferError.Internal(code: 13, detail: "x").detail, "x")
        XCTAssertFalse(coreVersion().isEmpty)
    }
}
