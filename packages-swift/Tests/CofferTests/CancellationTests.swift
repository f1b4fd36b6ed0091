// Cancellation as Swift sees it. uniffi's Swift async calls do not forward Task cancellation to
// Rust (uniffi 0.32): a call in flight when its Task is cancelled runs to its end and returns its
// result. These tests pin that behaviour (so a uniffi upgrade that changes it is noticed) and
// show that cancelled and concurrent tasks leave the vault consistent and usable.
import Foundation
import XCTest
@testable import Coffer

final class CancellationTests: XCTestCase {
    func testACancelledTaskFinishesItsCallAndTheVaultStaysUsable() async throws {
        let t = MemoryTransport()
        let v = try await Vault.openTransport(transport: t, identity: Identity.generate(), vault: "slow",
                                              device: "laptop", mode: .create)
        t.blockDelayNs = 300_000_000
        let task = Task { try await v.put(key: "k", data: pattern(1000)) }
        try await Task.sleep(nanoseconds: 50_000_000)
        task.cancel()
        let info = try await task.value
        XCTAssertTrue(task.isCancelled)
        XCTAssertEqual(info.size, 1000)
        t.blockDelayNs = 0
        try await eq(try await v.get(key: "k"), pattern(1000))
        try await v.put(key: "after", data: d("ok"))
        try await eq(try await v.get(key: "after"), d("ok"))
    }

    func testManyConcurrentTasksSomeCancelled() async throws {
        let v = try await Vault.openDir(path: try tempDir().path, identity: Identity.generate(), vault: "c",
                                        device: "d", mode: .create)
        let tasks = (0..<8).map { i in
            Task { try await v.put(key: "x\(i)", data: pattern(200_000 + i)) }
        }
        for (i, task) in tasks.enumerated() where i % 2 == 0 { task.cancel() }
        for task in tasks { _ = try await task.value }
        let keys = try await v.list().keys
        XCTAssertEqual(keys, (0..<8).map { "x\($0)" }.sorted())
        for i in 0..<8 { try await eq(try await v.get(key: "x\(i)"), pattern(200_000 + i)) }
    }

    func testAVaultIsUsableFromManyTasksAtOnce() async throws {
        let t = MemoryTransport()
        let me = Identity.generate()
        let v = try await Vault.openTransport(transport: t, identity: me, vault: "busy", device: "a", mode: .create)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<16 {
                group.addTask { try await v.put(key: "k\(i)", data: d("v\(i)")) }
            }
            try await group.waitForAll()
        }
        let other = try await Vault.openTransport(transport: t, identity: me, vault: "busy", device: "b", mode: .open)
        _ = try await other.sync()
        try await eq(try await other.list().keyCount, 16)
    }
}
