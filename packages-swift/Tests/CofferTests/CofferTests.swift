// Swift tests of the coffer bindings, mirroring packages-kotlin/src/test (same test vectors, same
// vault workload on a directory, S3 and an app transport, same typed errors).
// NOT RUN on this project's machines (no Swift toolchain there); run with `swift test` on macOS
// after build-xcframework.sh. S3 tests run when COFFER_TEST_S3_ENDPOINT is set.
import Foundation
import XCTest
@testable import Coffer

private let repo = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

private func vectors(_ name: String) throws -> [String: Any] {
    let data = try Data(contentsOf: repo.appendingPathComponent("test-vectors/\(name)"))
    return try JSONSerialization.jsonObject(with: data) as! [String: Any]
}

private func hex(_ s: String) -> Data {
    var out = Data(capacity: s.count / 2)
    var i = s.startIndex
    while i < s.endIndex {
        let j = s.index(i, offsetBy: 2)
        out.append(UInt8(s[i..<j], radix: 16)!)
        i = j
    }
    return out
}

private func d(_ s: String) -> Data { Data(s.utf8) }
private func pattern(_ n: Int) -> Data { Data((0..<n).map { UInt8($0 % 251) }) }

private func code(_ e: Error) -> UInt32? {
    guard let e = e as? CofferError else { return nil }
    switch e {
    case .InvalidInput(let c, _), .InvalidKey(let c, _), .WrongIdentity(let c, _), .Corrupt(let c, _),
         .NotFound(let c, _), .NoSuchVault(let c, _), .AlreadyExists(let c, _),
         .PreconditionFailed(let c, _), .StoreUnavailable(let c, _), .StoreAccessDenied(let c, _),
         .Store(let c, _), .Unsupported(let c, _), .Internal(let c, _):
        return c
    }
}

private func expectCode(_ expected: UInt32, _ body: () async throws -> Void,
                        file: StaticString = #filePath, line: UInt = #line) async {
    do {
        try await body()
        XCTFail("expected error code \(expected), nothing was thrown", file: file, line: line)
    } catch {
        XCTAssertEqual(code(error), expected, "\(error)", file: file, line: line)
    }
}

/// An app-provided transport: blocks and heads in memory.
final class MemoryTransport: Transport, @unchecked Sendable {
    private let lock = NSLock()
    var blocks: [String: Data] = [:]
    private var heads: [String: HeadRecord] = [:]
    private var counter = 0
    var failWith: Error?

    private func locked<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }

    private func gate() throws { if let e = locked({ failWith }) { throw e } }

    func putBlock(cid: String, bytes: Data) async throws { try gate(); locked { blocks[cid] = bytes } }
    func getBlock(cid: String) async throws -> Data? { try gate(); return locked { blocks[cid] } }
    func getBlockRange(cid: String, start: UInt64, end: UInt64) async throws -> Data? {
        try gate()
        guard let b = locked({ blocks[cid] }) else { return nil }
        guard end <= UInt64(b.count), start <= end else { throw TransportError.Failed(detail: "range") }
        return b.subdata(in: Int(start)..<Int(end))
    }
    func hasBlock(cid: String) async throws -> Bool { try gate(); return locked { blocks[cid] != nil } }
    func deleteBlock(cid: String) async throws { try gate(); _ = locked { blocks.removeValue(forKey: cid) } }
    func listBlocks() async throws -> [String] { try gate(); return locked { Array(blocks.keys) } }
    func readHeads(vault: String) async throws -> [HeadRecord] {
        try gate()
        return locked { heads.filter { $0.key.hasPrefix(vault + "/") }.map { $0.value } }
    }
    func writeHead(vault: String, writer: String, bytes: Data, condition: HeadWriteCondition) async throws -> String {
        try gate()
        return try locked {
            let key = vault + "/" + writer
            let cur = heads[key]
            let ok: Bool
            switch condition {
            case .absent: ok = cur == nil
            case .matches(let version): ok = cur?.version == version
            case .unconditional: ok = true
            }
            guard ok else { throw TransportError.PreconditionFailed(detail: "head of \(writer) changed") }
            counter += 1
            heads[key] = HeadRecord(writer: writer, bytes: bytes, version: "v\(counter)")
            return "v\(counter)"
        }
    }
    func enforcesConditions() -> Bool { true }
}

/// The same vault workload as the Kotlin tests, on any store.
private func exerciseVault(_ open: (String, OpenMode) async throws -> Vault) async throws {
    let laptop = try await open("laptop", .create)
    let big = pattern(300_000)
    let v1 = try await laptop.put(key: d("docs/a.txt"), data: d("hello"),
                                  options: PutParams(contentType: "text/plain", metadata: ["k": "v"]))
    XCTAssertEqual(v1.size, 5)
    _ = try await laptop.put(key: d("docs/big.bin"), data: big, options: nil)
    XCTAssertEqual(try await laptop.get(key: d("docs/a.txt")), d("hello"))
    XCTAssertEqual(try await laptop.get(key: d("docs/big.bin")), big)
    XCTAssertEqual(try await laptop.getRange(key: d("docs/big.bin"), start: 70_000, end: 140_001),
                   big.subdata(in: 70_000..<140_001))
    let head = try await laptop.head(key: d("docs/a.txt"))
    XCTAssertEqual(head.contentType, "text/plain")
    XCTAssertEqual(head.metadata, ["k": "v"])
    await expectCode(8) { _ = try await laptop.put(key: d("docs/a.txt"), data: d("x"), options: PutParams(ifAbsent: true)) }
    let v2 = try await laptop.put(key: d("docs/a.txt"), data: d("hello v2"), options: PutParams(ifMatch: v1.version))
    XCTAssertEqual(try await laptop.versions(key: d("docs/a.txt")).map(\.version), [v2.version, v1.version])
    XCTAssertEqual(try await laptop.getVersion(key: d("docs/a.txt"), version: v1.version), d("hello"))
    _ = try await laptop.put(key: d("top.txt"), data: d("t"), options: nil)
    let page = try await laptop.list(params: ListParams(delimiter: d("/")))
    XCTAssertEqual(page.contents.map { String(decoding: $0.key, as: UTF8.self) }, ["top.txt"])
    XCTAssertEqual(page.commonPrefixes, [d("docs/")])
    _ = try await laptop.copy(src: d("top.txt"), dst: d("copy.txt"))
    try await laptop.delete(key: d("copy.txt"))
    await expectCode(5) { _ = try await laptop.get(key: d("copy.txt")) }
    let outcomes = try await laptop.deleteMany(keys: [d("top.txt"), d("missing")])
    XCTAssertEqual(outcomes.map(\.errorCode), [nil, 5])
    let phone = try await open("phone", .open)
    await expectCode(5) { _ = try await phone.get(key: d("docs/a.txt")) }
    let report = try await phone.sync()
    XCTAssertFalse(report.merged.isEmpty)
    XCTAssertEqual(try await phone.get(key: d("docs/a.txt")), d("hello v2"))
    await expectCode(7) { _ = try await open("tablet", .create) }
    await expectCode(1) { _ = try await laptop.put(key: Data(count: 2000), data: d("x"), options: nil) }
}

final class CofferTests: XCTestCase {
    func testIdentityVectors() throws {
        for v in try vectors("identities.json")["vectors"] as! [[String: Any]] {
            let id = try Identity.fromSeed(seed: hex(v["seed"] as! String))
            XCTAssertEqual(id.recipient().toText(), v["recipient"] as? String)
            XCTAssertEqual(id.toSecretString(), v["identity"] as? String)
            XCTAssertEqual(try Identity.parse(text: v["identity"] as! String).recipient(), id.recipient())
            XCTAssertEqual(id.sign(message: d("hello")), hex(v["signature_of_hello"] as! String))
            let r = try Recipient.parse(text: v["recipient"] as! String)
            XCTAssertEqual(r.x25519PublicKey(), hex(v["x25519_public"] as! String))
            XCTAssertTrue(r.verify(message: d("hello"), signature: hex(v["signature_of_hello"] as! String)))
        }
    }

    func testInvalidKeys() async throws {
        for bad in ["", "coffer1", "not a key"] {
            await expectCode(2) { _ = try Recipient.parse(text: bad) }
        }
        await expectCode(2) { _ = try Identity.fromSeed(seed: Data(count: 31)) }
    }

    func testSealedVectorsAndErrors() async throws {
        for v in try vectors("sealed.json")["vectors"] as! [[String: Any]] {
            let sealed = hex(v["sealed"] as! String)
            XCTAssertEqual(cidRaw(bytes: sealed), v["cid"] as? String)
            XCTAssertEqual(blake3Hex(data: sealed), v["blake3"] as? String)
            for seed in v["recipient_seeds"] as! [String] {
                let opened = try `open`(identity: try Identity.fromSeed(seed: hex(seed)), sealed: sealed)
                XCTAssertEqual(opened.plaintext, hex(v["plaintext"] as! String))
                if let signer = v["signer_seed"] as? String {
                    XCTAssertEqual(opened.signer?.toText(), try Identity.fromSeed(seed: hex(signer)).recipient().toText())
                } else {
                    XCTAssertNil(opened.signer)
                }
            }
            await expectCode(3) { _ = try `open`(identity: Identity.generate(), sealed: sealed) }
        }
        let me = Identity.generate()
        let sealed = try seal(plaintext: pattern(100_000), recipients: [me.recipient()], signer: me)
        var tampered = sealed
        tampered[tampered.count - 3] ^= 1
        await expectCode(4) { _ = try `open`(identity: me, sealed: tampered) }
        await expectCode(1) { _ = try seal(plaintext: d("x"), recipients: []) }
    }

    func testCidAndOutboardVectors() throws {
        for v in try vectors("cid.json")["vectors"] as! [[String: Any]] {
            XCTAssertEqual(cidRaw(bytes: hex(v["bytes"] as! String)), v["cid_raw"] as? String)
            XCTAssertEqual(cidDagCbor(bytes: hex(v["bytes"] as! String)), v["cid_dag_cbor"] as? String)
        }
        for c in try vectors("outboard.json")["cases"] as! [[String: Any]] {
            let len = c["input_len"] as! Int
            let data = pattern(len)
            let ob = computeOutboard(data: data)
            XCTAssertEqual(ob.root, c["root"] as? String)
            XCTAssertEqual(ob.outboard, hex(c["outboard"] as! String))
            try verifyOutboard(root: ob.root, data: data, outboard: ob.outboard)
            for r in c["ranges"] as! [[String: Any]] {
                let (s, e) = (UInt64(r["start"] as! Int), UInt64(r["end"] as! Int))
                let cov = try coveringRange(len: UInt64(len), start: s, end: e)
                let got = try verifyRange(root: ob.root, len: UInt64(len), outboard: ob.outboard, start: s, end: e,
                                          covering: data.subdata(in: Int(cov.start)..<Int(cov.end)))
                XCTAssertEqual(got, data.subdata(in: Int(s)..<Int(e)))
            }
        }
    }

    func testVaultOnDirectory() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("coffer-swift-\(UUID())").path
        let me = Identity.generate()
        await expectCode(6) { _ = try await Vault.openDir(path: dir, identity: me, vault: "v", device: "d", mode: .open) }
        try await exerciseVault { try await Vault.openDir(path: dir, identity: me, vault: "photos", device: $0, mode: $1) }
        await expectCode(3) { _ = try await Vault.openDir(path: dir, identity: Identity.generate(), vault: "photos", device: "x", mode: .open) }
    }

    func testVaultOnS3() async throws {
        let env = ProcessInfo.processInfo.environment
        guard let endpoint = env["COFFER_TEST_S3_ENDPOINT"] else { throw XCTSkip("COFFER_TEST_S3_ENDPOINT is not set") }
        let settings = S3Settings(bucket: env["COFFER_TEST_S3_BUCKET"] ?? "coffer-test", endpoint: endpoint,
                                  region: env["AWS_REGION"] ?? "us-east-1", prefix: "swift-\(UUID())", pathStyle: true,
                                  credentials: S3Credentials(accessKeyId: env["AWS_ACCESS_KEY_ID"]!,
                                                                         secretAccessKey: env["AWS_SECRET_ACCESS_KEY"]!))
        XCTAssertFalse("\(settings)".contains(env["AWS_SECRET_ACCESS_KEY"]!))
        let me = Identity.generate()
        try await exerciseVault { try await Vault.openS3(settings: settings, identity: me, vault: "photos", device: $0, mode: $1) }
    }

    func testVaultOverSwiftTransport() async throws {
        let t = MemoryTransport()
        let me = Identity.generate()
        try await exerciseVault { try await Vault.openTransport(transport: t, identity: me, vault: "notes", device: $0, mode: $1) }
        for (cid, bytes) in t.blocks { try cidVerify(cid: cid, bytes: bytes) }
    }

    func testThrowingTransportGivesTypedErrors() async throws {
        let t = MemoryTransport()
        let me = Identity.generate()
        let v = try await Vault.openTransport(transport: t, identity: me, vault: "n", device: "a", mode: .create)
        _ = try await v.put(key: d("a"), data: d("1"), options: nil)
        t.failWith = TransportError.Unavailable(detail: "network down")
        await expectCode(9) { _ = try await v.put(key: d("b"), data: d("2"), options: nil) }
        t.failWith = TransportError.AccessDenied(detail: "no token")
        await expectCode(10) { _ = try await v.put(key: d("b"), data: d("2"), options: nil) }
        struct Boom: Error {}
        t.failWith = Boom()
        await expectCode(11) { _ = try await v.put(key: d("b"), data: d("2"), options: nil) }
        t.failWith = nil
        _ = try await v.put(key: d("b"), data: d("2"), options: nil)
        XCTAssertEqual(try await v.get(key: d("b")), d("2"))
    }

    func testCancellationDoesNotCrash() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("coffer-swift-\(UUID())").path
        let v = try await Vault.openDir(path: dir, identity: Identity.generate(), vault: "c", device: "d", mode: .create)
        for i in 0..<5 {
            let task = Task { try await v.put(key: d("x\(i)"), data: Data(count: 500_000), options: nil) }
            task.cancel()
            _ = await task.result
        }
        _ = try await v.put(key: d("y"), data: d("ok"), options: nil)
        XCTAssertEqual(try await v.get(key: d("y")), d("ok"))
    }
}
