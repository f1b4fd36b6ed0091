// The vault through the Swift bindings: the same workload on a directory, on S3 (SeaweedFS) and
// over a Transport written in Swift; files streamed in and out; tags; the Swift layer's defaults.
import Foundation
import XCTest
@testable import Coffer

/// One workload for every store: puts with options, reads, ranges, conditional puts, versions,
/// listings, copy/delete, a second device that syncs, and refusals.
private func exerciseVault(_ open: (String, OpenMode) async throws -> Vault) async throws {
    let laptop = try await open("laptop", .create)
    XCTAssertEqual(laptop.device(), "laptop")
    let big = pattern(300_000)
    let v1 = try await laptop.put(key: d("docs/a.txt"), data: d("hello"),
                                  options: PutParams(contentType: "text/plain", metadata: ["k": "v"]))
    XCTAssertEqual(v1.size, 5)
    try await laptop.put(key: "docs/big.bin", data: big)
    try await eq(try await laptop.get(key: "docs/a.txt"), d("hello"))
    try await eq(try await laptop.get(key: d("docs/big.bin")), big)
    try await eq(try await laptop.getRange(key: d("docs/big.bin"), start: 70_000, end: 140_001),
                   big.subdata(in: 70_000..<140_001))
    let head = try await laptop.head(key: d("docs/a.txt"))
    XCTAssertEqual(head.contentType, "text/plain")
    XCTAssertEqual(head.metadata, ["k": "v"])
    XCTAssertEqual(head.version, v1.version)
    await expectError(8) { _ = try await laptop.put(key: d("docs/a.txt"), data: d("x"), options: PutParams(ifAbsent: true)) }
    let v2 = try await laptop.put(key: d("docs/a.txt"), data: d("hello v2"), options: PutParams(ifMatch: v1.version))
    try await eq(try await laptop.versions(key: d("docs/a.txt")).map(\.version), [v2.version, v1.version])
    try await eq(try await laptop.getVersion(key: d("docs/a.txt"), version: v1.version), d("hello"))
    try await laptop.put(key: "top.txt", data: d("t"))
    let page = try await laptop.list(params: ListParams(delimiter: d("/")))
    XCTAssertEqual(page.keys, ["top.txt"])
    XCTAssertEqual(page.commonPrefixes, [d("docs/")])
    try await eq(try await laptop.list(params: ListParams(prefix: d("docs/"))).keys, ["docs/a.txt", "docs/big.bin"])
    _ = try await laptop.copy(src: d("top.txt"), dst: d("copy.txt"))
    try await eq(try await laptop.get(key: "copy.txt"), d("t"))
    try await laptop.delete(key: "copy.txt")
    await expectError(5) { _ = try await laptop.get(key: "copy.txt") }
    let outcomes = try await laptop.deleteMany(keys: [d("top.txt"), d("missing")])
    XCTAssertEqual(outcomes.map(\.errorCode), [nil, 5])
    let phone = try await open("phone", .open)
    await expectError(5) { _ = try await phone.get(key: "docs/a.txt") }
    let report = try await phone.sync()
    XCTAssertFalse(report.merged.isEmpty)
    try await eq(try await phone.get(key: "docs/a.txt"), d("hello v2"))
    try await eq(try await phone.get(key: "docs/big.bin"), big)
    await expectError(7) { _ = try await open("tablet", .create) }
    await expectError(1) { _ = try await laptop.put(key: Data(count: 2000), data: d("x"), options: nil) }
}

final class VaultTests: XCTestCase {
    func testVaultOnDirectory() async throws {
        let dir = try tempDir().path
        let me = Identity.generate()
        await expectError(6) { _ = try await Vault.openDir(path: dir, identity: me, vault: "photos", device: "laptop", mode: .open) }
        try await exerciseVault { try await Vault.openDir(path: dir, identity: me, vault: "photos", device: $0, mode: $1) }
        await expectError(3) {
            _ = try await Vault.openDir(path: dir, identity: Identity.generate(), vault: "photos", device: "x", mode: .open)
        }
    }

    func testVaultOnS3() async throws {
        let settings = try seaweedSettings("swift")
        let secret = ProcessInfo.processInfo.environment["AWS_SECRET_ACCESS_KEY"]!
        XCTAssertFalse("\(settings)".contains(secret), "printing S3Settings shows the secret")
        XCTAssertTrue("\(settings.credentials!)".contains("<redacted>"))
        let me = Identity.generate()
        try await exerciseVault { try await Vault.openS3(settings: settings, identity: me, vault: "photos", device: $0, mode: $1) }
        var bad = settings
        bad.credentials = S3Credentials(accessKeyId: settings.credentials!.accessKeyId(), secretAccessKey: "wrong-secret")
        bad.prefix = "swift-bad-\(UUID().uuidString)"
        do {
            _ = try await Vault.openS3(settings: bad, identity: me, vault: "photos", device: "laptop", mode: .openOrCreate)
            XCTFail("wrong credentials were accepted")
        } catch let e as CofferError {
            XCTAssertTrue([10, 11].contains(e.code), "\(e)")
        }
    }

    func testVaultOverSwiftTransport() async throws {
        let t = MemoryTransport()
        let me = Identity.generate()
        try await exerciseVault { try await Vault.openTransport(transport: t, identity: me, vault: "notes", device: $0, mode: $1) }
        XCTAssertFalse(t.blocks.isEmpty)
        // Every block the Swift transport holds is named by its CID.
        for (cid, bytes) in t.blocks { try cidVerify(cid: cid, bytes: bytes) }
    }

    func testFilesStreamInAndOutAndTagsChangeWithoutANewVersion() async throws {
        let dir = try tempDir()
        let v = try await Vault.openDir(path: dir.appendingPathComponent("store").path, identity: Identity.generate(),
                                        vault: "files", device: "laptop", mode: .create)
        let src = dir.appendingPathComponent("video.bin")
        let data = pattern(3_000_001)
        try data.write(to: src)
        let info = try await v.putFile(key: d("videos/v.bin"), path: src.path, options: PutParams(tags: ["album": "2026"]))
        XCTAssertEqual(info.size, 3_000_001)
        try await eq(try await v.tags(key: d("videos/v.bin")), ["album": "2026"])
        let out = dir.appendingPathComponent("out.bin")
        let got = try await v.getToFile(key: d("videos/v.bin"), path: out.path)
        XCTAssertEqual(got.version, info.version)
        XCTAssertEqual(try Data(contentsOf: out), data)
        // The same file under the same key seals to the same object: what makes uploads resumable.
        try await eq(try await v.putFile(key: d("videos/v.bin"), path: src.path, options: nil).dataCid, info.dataCid)
        try await eq(try await v.tags(key: d("videos/v.bin")), [:], "a new put replaces the tags")
        let before = try await v.head(key: d("videos/v.bin")).version
        try await v.setTags(key: d("videos/v.bin"), tags: ["state": "final"])
        try await eq(try await v.tags(key: d("videos/v.bin")), ["state": "final"])
        try await eq(try await v.head(key: d("videos/v.bin")).version, before, "tags changed the version")
        await expectError(1) { _ = try await v.putFile(key: d("x"), path: dir.appendingPathComponent("missing").path, options: nil) }
        let never = dir.appendingPathComponent("never.bin")
        await expectError(5) { _ = try await v.getToFile(key: d("nope"), path: never.path) }
        XCTAssertFalse(FileManager.default.fileExists(atPath: never.path), "a failed get left a file")
    }

    /// The Swift layer: the default store directory (Application Support/coffer on Apple platforms,
    /// $XDG_DATA_HOME/coffer here), String keys and ListResult.keys.
    func testOpenDefaultUsesTheApplicationSupportDirectory() async throws {
        let dir = try Vault.defaultStoreDirectory()
        XCTAssertEqual(dir.lastPathComponent, "coffer")
        let support = try FileManager.default.url(for: .applicationSupportDirectory, in: .userDomainMask,
                                                  appropriateFor: nil, create: false)
        XCTAssertEqual(dir.deletingLastPathComponent().standardizedFileURL.path, support.standardizedFileURL.path)
        let name = "default-\(UUID().uuidString.prefix(8))"
        let me = Identity.generate()
        let v = try await Vault.openDefault(identity: me, vault: name, device: "phone")
        try await v.put(key: "hello.txt", data: d("hi"))
        let again = try await Vault.openDefault(identity: me, vault: name, device: "phone", mode: .open)
        try await eq(try await again.get(key: "hello.txt"), d("hi"))
        let heads = dir.appendingPathComponent("heads").appendingPathComponent(name)
        XCTAssertTrue(FileManager.default.fileExists(atPath: heads.path), "no vault under \(dir.path)")
    }
}
