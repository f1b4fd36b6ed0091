// Read-write shares (docs/FORMAT.md §9.1) and owner identity rotation (§8) through the Swift
// bindings, on a local directory: Alice grants Bob write under a prefix, Bob writes with a
// SharedWriter, Alice merges; writes outside the prefix, after expiry and after revocation are
// refused; Alice hands the vault over to a new identity, and the old one is HandedOver (18).
import Foundation
import XCTest
@testable import Coffer

final class CowriteTests: XCTestCase {
    /// The newest grant of share `id` in `who`'s inbox.
    private func grant(_ store: CofferStore, _ who: Identity, _ id: String) async throws -> Share {
        let book = ShareBook()
        for e in try await readInbox(store: store, identity: who) {
            if let s = e.share { _ = try? book.accept(share: s, nowMs: nowMs()) }
        }
        return try book.find(idPrefix: id)
    }

    /// Alice's vault "team" in `dir`: a plan under docs/ and a private diary.
    private func teamVault(_ dir: String, _ alice: Identity) async throws -> Vault {
        let v = try await Vault.openDir(path: dir, identity: alice, vault: "team", device: "laptop", mode: .create)
        try await v.put(key: "docs/plan.md", data: d("v0"))
        try await v.put(key: "private/diary.md", data: d("mine"))
        return v
    }

    func testACoWriterWritesUnderItsPrefixAndTheOwnerMerges() async throws {
        let dir = try tempDir().path
        let alice = Identity.generate(), bob = Identity.generate(), carol = Identity.generate()
        let v = try await teamVault(dir, alice)
        let bobId = try await v.share(scope: .prefix(prefix: d("docs/")), recipient: bob.recipient().toText(),
                                      expiresMs: nowMs() + hourMs, write: true)
        let carolId = try await v.share(scope: .prefix(prefix: d("docs/")), recipient: carol.recipient().toText(),
                                        expiresMs: nowMs() + hourMs)
        let infos = Dictionary(uniqueKeysWithValues: await v.shares().map { ($0.id, $0) })
        XCTAssertEqual(infos[bobId]?.write, true)
        XCTAssertEqual(infos[carolId]?.write, false)

        let store = try CofferStore.dir(path: dir)
        let share = try await grant(store, bob, bobId)
        XCTAssertTrue(share.canWrite())
        XCTAssertEqual(share.rights(), ["read", "write"])
        let w = try await SharedWriter.open(store: store, identity: bob, share: share)
        XCTAssertEqual(w.share().id(), bobId)
        XCTAssertEqual(w.writerId().count, 32)
        let version = try await w.put(key: d("docs/notes.md"), data: d("from bob"), contentType: "text/markdown")
        XCTAssertTrue(version.hasPrefix("b"), version)
        _ = try await w.put(key: d("docs/plan.md"), data: d("v1 by bob"))
        _ = try await v.sync()
        await expectError(5) { _ = try await v.get(key: d("docs/notes.md")) } // not committed yet
        try await eq(try await w.commit(), 1)
        try await eq(try await w.reader().get(key: d("docs/notes.md")), d("from bob"))

        try await v.mergeCowriters()
        try await eq(try await v.get(key: d("docs/notes.md")), d("from bob"))
        try await eq(try await v.head(key: d("docs/notes.md")).contentType, "text/markdown")
        try await eq(try await v.get(key: d("docs/plan.md")), d("v1 by bob"))
        try await eq(try await v.versions(key: d("docs/plan.md")).count, 2)
        await eq(await v.skippedHeads().count, 0)

        try await w.delete(key: d("docs/notes.md"))
        try await eq(try await w.commit(), 2)
        _ = try await v.sync()
        await expectError(5) { _ = try await v.get(key: d("docs/notes.md")) }

        let carolShare = try await grant(store, carol, carolId)
        XCTAssertFalse(carolShare.canWrite())
        try await eq(try await SharedReader.open(store: store, share: carolShare).get(key: d("docs/plan.md")), d("v1 by bob"))
        await expectError(16) { _ = try await SharedWriter.open(store: store, identity: carol, share: carolShare) }
        await expectError(3) { _ = try await SharedWriter.open(store: store, identity: carol, share: share) }
    }

    func testAWriteOutsideThePrefixIsRefusedAndWritesNothing() async throws {
        let dir = try tempDir().path
        let alice = Identity.generate(), bob = Identity.generate()
        let v = try await teamVault(dir, alice)
        let id = try await v.share(scope: .prefix(prefix: d("docs/")), recipient: bob.recipient().toText(),
                                   expiresMs: nowMs() + hourMs, write: true)
        let store = try CofferStore.dir(path: dir)
        let w = try await SharedWriter.open(store: store, identity: bob, share: try await grant(store, bob, id))
        let e = await expectError(17) { _ = try await w.put(key: d("private/diary.md"), data: d("evil")) }
        XCTAssertTrue(e?.detail.contains("private/diary.md") ?? false, "\(String(describing: e))")
        await expectError(17) { try await w.delete(key: d("private/diary.md")) }
        _ = try await w.put(key: d("docs/ok.md"), data: d("fine"))
        _ = try await w.commit()
        _ = try await v.sync()
        try await eq(try await v.get(key: d("private/diary.md")), d("mine"))
        try await eq(try await v.get(key: d("docs/ok.md")), d("fine"))
    }

    func testAnExpiredOrRevokedWriterIsRefusedAndWhatItCommittedStays() async throws {
        let dir = try tempDir().path
        let alice = Identity.generate(), bob = Identity.generate(), carol = Identity.generate()
        let v = try await teamVault(dir, alice)
        let store = try CofferStore.dir(path: dir)
        // Expiry: Carol's right lasts 1.5 s.
        let carolId = try await v.share(scope: .prefix(prefix: d("docs/")), recipient: carol.recipient().toText(),
                                        expiresMs: nowMs() + 1_500, write: true)
        let c = try await SharedWriter.open(store: store, identity: carol, share: try await grant(store, carol, carolId))
        _ = try await c.put(key: d("docs/carol.md"), data: d("kept"))
        _ = try await c.commit()
        _ = try await v.sync()
        try await Task.sleep(nanoseconds: 2_000_000_000)
        await expectError(8) { _ = try await c.put(key: d("docs/late.md"), data: d("late")) }
        await expectError(8) { _ = try await c.commit() }
        try await eq(try await v.get(key: d("docs/carol.md")), d("kept"))

        // Revocation: Bob's commit is merged by the revocation itself; then he is refused.
        let bobId = try await v.share(scope: .prefix(prefix: d("docs/")), recipient: bob.recipient().toText(),
                                      expiresMs: nowMs() + hourMs, write: true)
        let w = try await SharedWriter.open(store: store, identity: bob, share: try await grant(store, bob, bobId))
        _ = try await w.put(key: d("docs/plan.md"), data: d("bob's edit"))
        _ = try await w.commit()
        _ = try await v.revoke(id: bobId)
        try await eq(try await v.get(key: d("docs/plan.md")), d("bob's edit"))
        try await eq(try await v.versions(key: d("docs/plan.md")).count, 2)
        await expectError(8) { _ = try await w.put(key: d("docs/late.md"), data: d("no")) }
        await expectError(8) { _ = try await w.commit() }
        _ = try await v.sync()
        await expectError(5) { _ = try await v.get(key: d("docs/late.md")) }
    }

    func testIdentityRotationTheNewIdentityReadsEverythingTheOldOneIsHandedOver() async throws {
        let dir = try tempDir().path
        let alice = Identity.generate(), alice2 = Identity.generate(), bob = Identity.generate()
        let v = try await teamVault(dir, alice)
        let phone = try await Vault.openDir(path: dir, identity: alice, vault: "team", device: "phone", mode: .open)
        try await phone.put(key: "docs/from-phone.md", data: d("phone"))
        _ = try await v.share(scope: .prefix(prefix: d("docs/")), recipient: bob.recipient().toText(), expiresMs: nowMs() + hourMs)
        await eq(await v.owner().toText(), alice.recipient().toText())
        await eq(await v.handovers().count, 0)
        await expectError(1) { _ = try await v.rotateIdentity(newIdentity: alice) }
        await expectError(1) { _ = try await v.rotateIdentity(newIdentity: bob) } // a share recipient

        let r = try await v.rotateIdentity(newIdentity: alice2)
        XCTAssertEqual(r.from, alice.recipient().toText())
        XCTAssertEqual(r.to, alice2.recipient().toText())
        XCTAssertFalse(r.resumed)
        XCTAssertEqual(r.finalHeads, 2, "the laptop's and the phone's last heads")
        XCTAssertEqual(r.records, 1, "Bob's share record")
        XCTAssertTrue((1...65_536).contains(r.bytesWritten), "\(r.bytesWritten)")
        await eq(await v.owner().toText(), alice2.recipient().toText())
        let chain = await v.handovers()
        XCTAssertEqual(chain.count, 1)
        XCTAssertEqual(chain.first?.n, 1)
        XCTAssertEqual(chain.first?.cid, r.handover)
        XCTAssertEqual(chain.first?.from, alice.recipient().toText())
        XCTAssertEqual(chain.first?.to, alice2.recipient().toText())
        try await v.put(key: "docs/after.md", data: d("as alice2"))

        let ho = await expectError(18) { _ = try await phone.sync() }
        XCTAssertTrue(ho?.detail.contains(alice2.recipient().toText()) ?? false, "\(String(describing: ho))")
        await expectError(18) {
            _ = try await Vault.openDir(path: dir, identity: alice, vault: "team", device: "tablet", mode: .open)
        }
        let fresh = try await Vault.openDir(path: dir, identity: alice2, vault: "team", device: "tablet", mode: .open)
        _ = try await fresh.sync()
        for (k, t) in [("docs/plan.md", "v0"), ("private/diary.md", "mine"), ("docs/from-phone.md", "phone"),
                       ("docs/after.md", "as alice2")] {
            try await eq(try await fresh.get(key: d(k)), d(t), k)
        }
        try await fresh.put(key: "docs/tablet.md", data: d("tablet"))
        _ = try await v.sync()
        try await eq(try await v.get(key: d("docs/tablet.md")), d("tablet"))
        await eq(await v.skippedHeads().count, 0)

        // The rotation carried Bob's share over (docs/THREATS.md, rotation): the grant the old
        // identity signed is retired (8, revoked), and a new one, signed by the new identity,
        // reads what was written before and after.
        let store = try CofferStore.dir(path: dir)
        let bobGrants = try await readInbox(store: store, identity: bob).compactMap { $0.share }
        let oldGrant = try XCTUnwrap(bobGrants.first { $0.issuer().toText() == alice.recipient().toText() })
        let newGrant = try XCTUnwrap(bobGrants.first { $0.issuer().toText() == alice2.recipient().toText() })
        await expectError(8) { _ = try await SharedReader.open(store: store, share: oldGrant) }
        let bobReader = try await SharedReader.open(store: store, share: newGrant)
        try await eq(try await bobReader.get(key: d("docs/after.md")), d("as alice2"))
        try await eq(try await bobReader.get(key: d("docs/plan.md")), d("v0"))
        let again = try await openAndRotateIdentity(store: store, oldIdentity: alice, newIdentity: alice2,
                                                    vault: "team", device: "phone")
        XCTAssertTrue(again.rotation.resumed)
        XCTAssertEqual(again.rotation.handover, r.handover)
        await eq(await again.vault.owner().toText(), alice2.recipient().toText())
        _ = try await again.vault.sync()
        try await eq(try await again.vault.get(key: d("docs/after.md")), d("as alice2"))
        await expectError(18) {
            _ = try await openAndRotateIdentity(store: store, oldIdentity: alice, newIdentity: Identity.generate(),
                                                vault: "team", device: "phone")
        }
        await expectError(1) { _ = try await v.rotateIdentity(newIdentity: alice) } // a retired identity
    }
}
