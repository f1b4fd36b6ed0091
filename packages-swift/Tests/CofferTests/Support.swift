// Helpers shared by the Swift tests: test-vector loading, byte helpers, error-code expectations,
// an in-memory Transport written in Swift and the test S3 server's settings.
import Foundation
import XCTest
@testable import Coffer

/// The repository root (this file is packages-swift/Tests/CofferTests/Support.swift).
let repo = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

func vectors(_ name: String) throws -> [String: Any] {
    let data = try Data(contentsOf: repo.appendingPathComponent("test-vectors/\(name)"))
    return try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any], name)
}

/// A JSON number as an Int (Foundation on Linux hands out NSNumber or Int depending on version).
func int(_ any: Any?) -> Int {
    if let i = any as? Int { return i }
    if let n = any as? NSNumber { return n.intValue }
    return -1
}

func hex(_ s: String) -> Data {
    var out = Data(capacity: s.count / 2)
    var i = s.startIndex
    while i < s.endIndex {
        let j = s.index(i, offsetBy: 2)
        out.append(UInt8(s[i..<j], radix: 16)!)
        i = j
    }
    return out
}

func d(_ s: String) -> Data { Data(s.utf8) }
func str(_ data: Data) -> String { String(decoding: data, as: UTF8.self) }

/// Bytes 0, 1, …, 250 repeating (the outboard vectors use it too).
func pattern(_ n: Int) -> Data { Data((0..<n).map { UInt8($0 % 251) }) }

func tempDir() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("coffer-swift-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// XCTAssertEqual for a value that must be awaited (XCTest's autoclosures cannot await).
func eq<T: Equatable>(_ value: @autoclosure () async throws -> T, _ expected: @autoclosure () throws -> T,
                      _ message: @autoclosure () -> String = "",
                      file: StaticString = #filePath, line: UInt = #line) async rethrows {
    let got = try await value()
    XCTAssertEqual(got, try expected(), message(), file: file, line: line)
}

/// Runs `body` and returns the CofferError it throws; fails the test when it throws nothing or
/// something else, or when the error's code is not `code`.
@discardableResult
func expectError(_ code: UInt32, _ body: () async throws -> Void,
                 file: StaticString = #filePath, line: UInt = #line) async -> CofferError? {
    do {
        try await body()
        XCTFail("expected a CofferError with code \(code), nothing was thrown", file: file, line: line)
    } catch let e as CofferError {
        XCTAssertEqual(e.code, code, "\(e)", file: file, line: line)
        XCTAssertFalse(e.detail.isEmpty, file: file, line: line)
        return e
    } catch {
        XCTFail("expected a CofferError with code \(code), got \(error)", file: file, line: line)
    }
    return nil
}

/// An app-provided transport written in Swift: blocks and heads in memory. `failWith` makes every
/// call throw; `blockDelayNs` makes block writes slow (for cancellation tests).
final class MemoryTransport: Transport, @unchecked Sendable {
    private let lock = NSLock()
    private var blocksByCid: [String: Data] = [:]
    private var heads: [String: [String: HeadRecord]] = [:]
    private var counter = 0
    private var failure: Error?
    private var calls = 0
    var blockDelayNs: UInt64 = 0

    private func locked<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }

    var blocks: [String: Data] {
        get { locked { blocksByCid } }
        set { locked { blocksByCid = newValue } }
    }
    var failWith: Error? {
        get { locked { failure } }
        set { locked { failure = newValue } }
    }
    var callCount: Int { locked { calls } }

    /// Seeds heads (vault → writer → bytes), as a store written by someone else would hold them.
    func seedHeads(_ seed: [String: [String: Data]]) {
        locked {
            for (vault, writers) in seed {
                for (writer, bytes) in writers {
                    counter += 1
                    heads[vault, default: [:]][writer] = HeadRecord(writer: writer, bytes: bytes, version: "v\(counter)")
                }
            }
        }
    }

    private func gate() throws {
        try locked {
            calls += 1
            if let e = failure { throw e }
        }
    }

    func putBlock(cid: String, bytes: Data) async throws {
        try gate()
        if blockDelayNs > 0 { try await Task.sleep(nanoseconds: blockDelayNs) }
        locked { blocksByCid[cid] = bytes }
    }

    func getBlock(cid: String) async throws -> Data? {
        try gate()
        return locked { blocksByCid[cid] }
    }

    func getBlockRange(cid: String, start: UInt64, end: UInt64) async throws -> Data? {
        try gate()
        guard let b = locked({ blocksByCid[cid] }) else { return nil }
        guard start <= end, end <= UInt64(b.count) else {
            throw TransportError.Failed(detail: "range \(start)..<\(end) outside \(b.count) bytes")
        }
        return b.subdata(in: Int(start)..<Int(end))
    }

    func hasBlock(cid: String) async throws -> Bool {
        try gate()
        return locked { blocksByCid[cid] != nil }
    }

    func deleteBlock(cid: String) async throws {
        try gate()
        _ = locked { blocksByCid.removeValue(forKey: cid) }
    }

    func listBlocks() async throws -> [String] {
        try gate()
        return locked { Array(blocksByCid.keys) }
    }

    func readHeads(vault: String) async throws -> [HeadRecord] {
        try gate()
        return locked { Array((heads[vault] ?? [:]).values) }
    }

    func writeHead(vault: String, writer: String, bytes: Data, condition: HeadWriteCondition) async throws -> String {
        try gate()
        return try locked {
            let current = heads[vault]?[writer]
            let holds: Bool
            switch condition {
            case .absent: holds = current == nil
            case .matches(let version): holds = current?.version == version
            case .unconditional: holds = true
            }
            guard holds else { throw TransportError.PreconditionFailed(detail: "head of \(writer) in \(vault) changed") }
            counter += 1
            heads[vault, default: [:]][writer] = HeadRecord(writer: writer, bytes: bytes, version: "v\(counter)")
            return "v\(counter)"
        }
    }

    func enforcesConditions() -> Bool { true }
}

/// The test S3 server (SeaweedFS, started by test-linux.sh) under a fresh prefix, or nil when none
/// is configured. With COFFER_SWIFT_REQUIRE_S3=1 (CI) a missing server fails the test instead.
func seaweedSettings(_ tag: String, file: StaticString = #filePath, line: UInt = #line) throws -> S3Settings {
    let env = ProcessInfo.processInfo.environment
    guard let endpoint = env["COFFER_TEST_S3_ENDPOINT"],
          let access = env["AWS_ACCESS_KEY_ID"], let secret = env["AWS_SECRET_ACCESS_KEY"] else {
        if env["COFFER_SWIFT_REQUIRE_S3"] == "1" {
            XCTFail("COFFER_TEST_S3_ENDPOINT and AWS credentials are not set", file: file, line: line)
        }
        throw XCTSkip("no test S3 server (COFFER_TEST_S3_ENDPOINT is not set)")
    }
    return S3Settings(bucket: env["COFFER_TEST_S3_BUCKET"] ?? "coffer-test", endpoint: endpoint,
                      region: env["AWS_REGION"] ?? "us-east-1", prefix: "\(tag)-\(UUID().uuidString)",
                      pathStyle: true,
                      credentials: S3Credentials(accessKeyId: access, secretAccessKey: secret))
}

let hourMs: UInt64 = 3_600_000
