// Trust memory through the Swift bindings: a vault reopened after the store served an older head
// is refused (Untrusted, code 14) when the device kept what it saw: in a directory, in an app's
// own TrustStorage written in Swift, or by openDefault's default. Without trust memory the old
// state is served (the documented default).
import Foundation
import XCTest
@testable import Coffer

/// A TrustStorage an app could write (here a dictionary; a real one persists it).
final class DictionaryTrustStorage: TrustStorage, @unchecked Sendable {
    private let lock = NSLock()
    private var docs: [String: Data] = [:]
    private var fail = false

    private func locked<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }

    var count: Int { locked { docs.count } }
    var failing: Bool {
        get { locked { fail } }
        set { locked { fail = newValue } }
    }

    func load(name: String) async throws -> Data? {
        try locked {
            if fail { throw TrustStorageError.Failed(detail: "disk full") }
            return docs[name]
        }
    }

    func save(name: String, bytes: Data) async throws {
        locked { docs[name] = bytes }
    }
}

/// The one head file of `vault` in a directory store (lock and temp files start with '.').
private func headFile(_ store: URL, _ vault: String) throws -> URL {
    let dir = store.appendingPathComponent("heads").appendingPathComponent(vault)
    let heads = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { !$0.hasPrefix(".") }
    XCTAssertEqual(heads.count, 1)
    return dir.appendingPathComponent(heads[0])
}

/// Writes two versions in a fresh directory store, puts the first head file back (what a hostile
/// or restored store does), reopens with the same options and returns the error, or nil when the
/// old state was served.
private func reopenAfterRollback(_ options: () throws -> VaultOptions?) async throws -> CofferError? {
    let store = try tempDir()
    let me = Identity.generate()
    let v = try await Vault.openDir(path: store.path, identity: me, vault: "notes", device: "phone",
                                    mode: .create, options: try options())
    try await v.put(key: "note", data: d("one"))
    let head = try headFile(store, "notes")
    let old = try Data(contentsOf: head)
    try await v.put(key: "note", data: d("two"))
    let fingerprint = await v.stateFingerprint()
    XCTAssertEqual(fingerprint.count, 19, fingerprint)
    let skipped = await v.skippedHeads()
    XCTAssertTrue(skipped.isEmpty)
    try old.write(to: head)
    do {
        let again = try await Vault.openDir(path: store.path, identity: me, vault: "notes", device: "phone",
                                            mode: .open, options: try options())
        try await eq(try await again.get(key: "note"), d("one"))
        return nil
    } catch let e as CofferError {
        return e
    }
}

final class TrustTests: XCTestCase {
    func testATrustDirectoryRefusesARollbackAcrossAReopen() async throws {
        let trustDir = try tempDir().appendingPathComponent("trust")
        let e = try await reopenAfterRollback { VaultOptions(trust: try TrustMemory.dir(path: trustDir.path)) }
        XCTAssertEqual(e?.code, 14)
        guard case .Untrusted(_, let detail) = e else { return XCTFail("not Untrusted: \(String(describing: e))") }
        XCTAssertTrue(detail.contains("rolled it back"), detail)
        let none = try await reopenAfterRollback { nil }
        XCTAssertNil(none, "without trust memory the old state is served")
    }

    func testAnAppsTrustStorageKeepsTheMemoryAndItsFailuresAre15() async throws {
        let storage = DictionaryTrustStorage()
        let e = try await reopenAfterRollback { VaultOptions(trust: TrustMemory.custom(storage: storage)) }
        XCTAssertEqual(e?.code, 14)
        XCTAssertGreaterThan(storage.count, 0)
        storage.failing = true
        let f = await expectError(15) {
            _ = try await Vault.openDir(path: try tempDir().path, identity: Identity.generate(), vault: "v",
                                        device: "a", mode: .create,
                                        options: VaultOptions(trust: TrustMemory.custom(storage: storage)))
        }
        XCTAssertTrue(f?.detail.contains("disk full") ?? false, String(describing: f))
    }

    /// openDefault keeps its trust memory in defaultTrustDirectory() unless told otherwise.
    func testOpenDefaultRemembersWhatItSaw() async throws {
        let trust = try Vault.defaultTrustDirectory()
        XCTAssertEqual(trust.lastPathComponent, "coffer-trust")
        let name = "trust-\(UUID().uuidString.prefix(8))"
        let me = Identity.generate()
        let v = try await Vault.openDefault(identity: me, vault: name, device: "phone")
        try await v.put(key: "k", data: d("one"))
        let head = try headFile(Vault.defaultStoreDirectory(), name)
        let old = try Data(contentsOf: head)
        try await v.put(key: "k", data: d("two"))
        try old.write(to: head)
        await expectError(14) { _ = try await Vault.openDefault(identity: me, vault: name, device: "phone", mode: .open) }
    }

    /// The README's snippet, run as written.
    func testReadmeTrustSnippet() async throws {
        let storeDir = try tempDir()
        let me = Identity.generate()
        // snippet:swift-trust
        // Keep what this device saw of the vault across restarts, next to the store:
        let trust = try TrustMemory.dir(path: try Vault.defaultTrustDirectory().path)
        let vault = try await Vault.openDir(path: storeDir.path, identity: me, vault: "notes",
                                            device: "phone", mode: .openOrCreate,
                                            options: VaultOptions(trust: trust))
        // A store that serves an older state later throws CofferError.Untrusted (code 14).
        // end snippet:swift-trust
        try await vault.put(key: "k", data: d("v"))
    }
}
