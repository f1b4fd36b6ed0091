// Sharing and links through the Swift bindings: Alice shares, Bob reads with only his identity and
// the store (a directory, a Swift transport, S3); a share link opened with URLSession.
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import XCTest
@testable import Coffer

final class ShareTests: XCTestCase {
    /// Alice shares a prefix on `store`; Bob accepts from his inbox, reads in scope, is refused out
    /// of scope, and is refused once revoked.
    private func shareOn(_ store: CofferStore) async throws {
        let alice = Identity.generate(), bob = Identity.generate()
        let vault = try await Vault.openStore(store: store, identity: alice, vault: "shared", device: "laptop", mode: .create)
        try await vault.put(key: "2026/cat.jpg", data: d("meow"), options: PutParams(contentType: "image/jpeg"))
        try await vault.put(key: "taxes.pdf", data: d("private"))
        let id = try await vault.share(scope: .prefix(prefix: d("2026/")), recipient: bob.recipient().toText(),
                                       expiresMs: nowMs() + hourMs)
        let infos = await vault.shares()
        XCTAssertEqual(infos.map(\.id), [id])
        XCTAssertEqual(infos.first?.status, .active)
        XCTAssertEqual(infos.first?.scope, .prefix(prefix: d("2026/")))

        let inbox = try await readInbox(store: store, identity: bob)
        XCTAssertEqual(inbox.count, 1)
        let share = try XCTUnwrap(inbox.first?.share, inbox.first?.error ?? "refused")
        XCTAssertEqual(share.id(), id)
        XCTAssertEqual(share.issuer(), alice.recipient())
        XCTAssertEqual(share.audience(), bob.recipient())
        XCTAssertTrue("\(share)".contains(id))
        try await eq(try await readInbox(store: store, identity: alice).count, 0)
        await expectError(3) { _ = try Share.open(identity: alice, envelope: share.envelope()) }

        let book = ShareBook()
        XCTAssertEqual(try book.accept(share: share, nowMs: nowMs()), .new)
        await expectError(4) { _ = try book.accept(share: share, nowMs: nowMs()) } // a replay
        let saved = try book.toBytes(identity: bob)
        let again = try ShareBook.fromBytes(identity: bob, bytes: saved)
        XCTAssertEqual(try again.find(idPrefix: String(id.prefix(8))).id(), id)
        await expectError(3) { _ = try ShareBook.fromBytes(identity: alice, bytes: saved) }

        let reader = try await SharedReader.open(store: store, share: again.find(idPrefix: id))
        try await eq(try await reader.get(key: d("2026/cat.jpg")), d("meow"))
        try await eq(try await reader.head(key: d("2026/cat.jpg")).contentType, "image/jpeg")
        try await eq(try await reader.list().keys, ["2026/cat.jpg"])
        let outside = await expectError(1) { _ = try await reader.get(key: d("taxes.pdf")) }
        XCTAssertTrue(outside?.detail.contains("scope") ?? false, "\(String(describing: outside))")
        await expectError(5) { _ = try await reader.get(key: d("2026/dog.jpg")) }

        let report = try await vault.revoke(id: id)
        XCTAssertEqual(report.grants, 0, "no other recipient to give new keys to")
        await eq(await vault.shares().first?.status, .revoked)
        await expectError(8) { _ = try await SharedReader.open(store: store, share: share) }
    }

    func testSharingOnADirectory() async throws {
        try await shareOn(CofferStore.dir(path: try tempDir().path))
    }

    func testSharingOverASwiftTransport() async throws {
        let t = MemoryTransport()
        try await shareOn(CofferStore.transport(transport: t))
        XCTAssertGreaterThan(t.callCount, 0)
    }

    func testSharingOnS3() async throws {
        try await shareOn(try await CofferStore.s3(settings: try seaweedSettings("swift-share")))
    }

    func testExpiryAndDurations() async throws {
        let dir = try tempDir().path
        let alice = Identity.generate(), bob = Identity.generate()
        let vault = try await Vault.openDir(path: dir, identity: alice, vault: "docs", device: "laptop", mode: .create)
        try await vault.put(key: "notes/today.txt", data: d("hello"))
        XCTAssertEqual(try parseDurationMs(text: "7d"), 604_800_000)
        await expectError(1) { _ = try parseDurationMs(text: "7 parsecs") }
        await expectError(1) {
            _ = try await vault.share(scope: .prefix(prefix: d("notes/")), recipient: bob.recipient().toText(), expiresMs: 1)
        }
        await expectError(2) {
            _ = try await vault.share(scope: .prefix(prefix: d("notes/")), recipient: "coffer1nope", expiresMs: nowMs() + hourMs)
        }
        _ = try await vault.share(scope: .prefix(prefix: d("notes/")), recipient: bob.recipient().toText(),
                                  expiresMs: nowMs() + 1_500)
        let store = try CofferStore.dir(path: dir)
        let entries = try await readInbox(store: store, identity: bob)
        let share = try XCTUnwrap(entries.first?.share)
        let reader = try await SharedReader.open(store: store, share: share)
        try await eq(try await reader.get(key: d("notes/today.txt")), d("hello"))
        try await Task.sleep(nanoseconds: 2_000_000_000)
        let expired = await expectError(8) { _ = try await reader.get(key: d("notes/today.txt")) }
        XCTAssertTrue(expired?.detail.contains("expired") ?? false)
        await expectError(8) { try share.checkTime(nowMs: nowMs()) }
        await expectError(8) { _ = try ShareBook().accept(share: share, nowMs: nowMs()) }
    }

    /// A link on S3: Alice makes it; anyone parses it, GETs the URL with URLSession (the key stays
    /// in the fragment, never sent), and opens the answer; a tampered answer and an expired link
    /// are refused; a directory store cannot make links.
    func testShareLinkOnS3OpenedWithURLSession() async throws {
        let store = try await CofferStore.s3(settings: try seaweedSettings("swift-link"))
        let alice = Identity.generate()
        let vault = try await Vault.openStore(store: store, identity: alice, vault: "links", device: "laptop", mode: .create)
        let film = pattern(300_000)
        try await vault.put(key: "film.bin", data: film, options: PutParams(contentType: "video/x-test"))
        let url = try await vault.shareLink(key: d("film.bin"), expiresMs: nowMs() + hourMs)
        XCTAssertTrue(url.contains("#coffer-link-2."), url)

        let link = try Link.parse(url: url)
        XCTAssertEqual(link.name(), "film.bin")
        XCTAssertEqual(link.contentType(), "video/x-test")
        XCTAssertEqual(link.size(), UInt64(film.count))
        XCTAssertEqual(link.owner(), alice.recipient())
        XCTAssertFalse(link.fetchesCar())
        XCTAssertFalse(link.fetchUrl().contains("#"), "the fetch URL carries the key")
        try link.checkTime(nowMs: nowMs())
        let (body, response) = try await fetch(URL(string: link.fetchUrl())!)
        XCTAssertEqual(response.statusCode, 200)
        XCTAssertEqual(try link.openResponse(body: body, nowMs: nowMs()), film)

        var altered = body
        altered[altered.count / 2] ^= 1
        await expectError(4) { _ = try link.openResponse(body: altered, nowMs: nowMs()) }
        await expectError(8) { _ = try link.openResponse(body: body, nowMs: link.expiresMs() + 1) }
        await expectError(8) { try link.checkTime(nowMs: link.expiresMs()) }
        await expectError(4) { _ = try Link.parse(url: "https://example.org/no-fragment") }
        let local = try await Vault.openDir(path: try tempDir().path, identity: alice, vault: "links", device: "laptop", mode: .create)
        try await local.put(key: "a", data: d("a"))
        await expectError(1) { _ = try await local.shareLink(key: d("a"), expiresMs: nowMs() + hourMs) }
    }

    /// One GET with URLSession's completion-handler API (FoundationNetworking on Linux has no
    /// async `data(from:)` before Swift 6).
    private func fetch(_ url: URL) async throws -> (Data, HTTPURLResponse) {
        try await withCheckedThrowingContinuation { cont in
            URLSession.shared.dataTask(with: url) { data, response, error in
                if let error { cont.resume(throwing: error); return }
                guard let http = response as? HTTPURLResponse, let data else {
                    cont.resume(throwing: URLError(.badServerResponse)); return
                }
                cont.resume(returning: (data, http))
            }.resume()
        }
    }
}
