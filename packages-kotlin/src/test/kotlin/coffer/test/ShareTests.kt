// JVM tests of sharing (docs/FORMAT.md §9) and derived identities, on a local directory store:
// Alice shares, Bob and Carol read from their inboxes with only their identity and the store.
package coffer.test

import coffer.*
import kotlinx.coroutines.*

private const val HOUR_MS = 3_600_000uL

/** Accepts every verified entry of [who]'s inbox into [book]; returns what each accept did (or the error). */
suspend fun acceptInbox(store: CofferStore, who: Identity, book: ShareBook): List<Any> =
    readInbox(store, who).map { e ->
        val s = e.share ?: return@map "refused ${e.errorCode}: ${e.error}"
        try {
            book.accept(s, nowMs())
        } catch (x: CofferException) {
            x
        }
    }

/** Alice shares a prefix on [store] (her vault opened on it with Vault.openStore); Bob reads it through the same store. */
suspend fun shareOn(store: CofferStore) {
    val (alice, bob) = Identity.generate() to Identity.generate()
    val vault = Vault.openStore(store, alice, "shared", "laptop", OpenMode.CREATE)
    vault.put(b("in/a.txt"), b("a"))
    vault.put(b("out/b.txt"), b("b"))
    val id = vault.share(ShareScope.Prefix(b("in/")), bob.recipient().toText(), nowMs() + HOUR_MS)
    val book = ShareBook()
    checkEq(listOf<Any>(Accepted.NEW), acceptInbox(store, bob, book))
    val reader = SharedReader.open(store, book.find(id))
    checkBytes(b("a"), reader.get(b("in/a.txt")))
    checkEq(listOf("in/a.txt"), reader.list().contents.map { String(it.key) })
    expectThrows<CofferException.InvalidInput> { runBlocking { reader.get(b("out/b.txt")) } }
    vault.revoke(id)
    expectThrows<CofferException.PreconditionFailed> { runBlocking { SharedReader.open(store, book.find(id)) } }
}

fun shareTests(h: Harness) {
    h.test("the sharing snippet of packages-kotlin/README.md runs as written") {
        val dir = tempDir("coffer-kt-readme")
        val (alice, bob) = Identity.generate() to Identity.generate()
        val bobRecipientText = bob.recipient().toText()
        runBlocking {
            val vault = Vault.openDir(dir.path, alice, "photos", "laptop", OpenMode.CREATE)
            vault.put("2026/cat.jpg", b("meow"))
            // snippet:kotlin-sharing
            // Alice (the owner) shares a prefix for a week; the capability lands in Bob's inbox on the store.
            val id = vault.share(ShareScope.Prefix("2026/".toByteArray()), bobRecipientText,
                                 expiresMs = nowMs() + parseDurationMs("7d"))
            val status = vault.shares().single().status          // ACTIVE, PENDING, EXPIRED or REVOKED

            // Bob: his identity and the store, nothing else.
            val store = CofferStore.dir(dir.path)                 // or CofferStore.s3(settings), .transport(t)
            val book = ShareBook()                                // keep it with book.toBytes(bob) / ShareBook.fromBytes(bob, bytes)
            for (e in readInbox(store, bob)) e.share?.let { book.accept(it, nowMs()) }   // NEW or UPDATED
            val reader = SharedReader.open(store, book.shares().first())
            val cat = reader.get("2026/cat.jpg".toByteArray())    // outside the scope: InvalidInput; expired or revoked: PreconditionFailed

            vault.revoke(id)                                      // new keys for the others, who get a new grant
            // end snippet:kotlin-sharing
            checkEq(ShareStatus.ACTIVE, status)
            checkBytes(b("meow"), cat)
            expectThrows<CofferException.PreconditionFailed> { runBlocking { SharedReader.open(store, book.shares().first()) } }
        }
        dir.deleteRecursively()
    }

    h.test("sharing over a Kotlin transport and over S3 (SeaweedFS): CofferStore.transport / CofferStore.s3") {
        runBlocking {
            val t = MemoryTransport()
            shareOn(CofferStore.transport(t))
            check(t.calls.get() > 0)
            shareOn(CofferStore.s3(seaweedSettings("kotlin-share")))
        }
    }


    h.test("sharing: Alice shares a prefix with Bob; Bob reads his inbox, accepts and reads; out of scope is refused") {
        val dir = tempDir("coffer-kt-share")
        val (alice, bob) = Identity.generate() to Identity.generate()
        runBlocking {
            val vault = Vault.openDir(dir.path, alice, "photos", "laptop", OpenMode.CREATE)
            vault.put(b("2026/cat.jpg"), b("meow"), PutParams(contentType = "image/jpeg"))
            vault.put(b("2026/dog.jpg"), b("woof"))
            vault.put(b("taxes.pdf"), b("private"))
            val id = vault.share(ShareScope.Prefix(b("2026/")), bob.recipient().toText(), nowMs() + HOUR_MS)
            checkEq(32, id.length, "share id length")
            val infos = vault.shares()
            checkEq(listOf(id), infos.map { it.id })
            checkEq(ShareStatus.ACTIVE, infos[0].status)
            checkEq(bob.recipient().toText(), infos[0].recipient)
            checkBytes(b("2026/"), (infos[0].scope as ShareScope.Prefix).prefix, "scope prefix")
            // A bad recipient is InvalidKey; an expiry in the past InvalidInput.
            checkEq(2u, expectThrows<CofferException.InvalidKey> {
                runBlocking { vault.share(ShareScope.Prefix(b("2026/")), "coffer1nope", nowMs() + HOUR_MS) }
            }.code)
            checkEq(1u, expectThrows<CofferException.InvalidInput> {
                runBlocking { vault.share(ShareScope.Prefix(b("2026/")), bob.recipient().toText(), 1uL) }
            }.code)

            // Bob: his identity and the store, nothing else.
            val store = CofferStore.dir(dir.path)
            val inbox = readInbox(store, bob)
            checkEq(1, inbox.size, "inbox size")
            val share = inbox[0].share ?: error("refused: ${inbox[0].error}")
            checkEq(null, inbox[0].errorCode)
            checkEq(id, share.id())
            checkEq(alice.recipient().toText(), share.issuer().toText())
            checkEq(bob.recipient().toText(), share.audience().toText())
            checkEq("photos", share.vault())
            checkEq(listOf("read"), share.rights())
            checkEq(1uL, share.grant())
            check(share.toString().contains(id)) { share.toString() }
            check(readInbox(store, alice).isEmpty()) { "Alice's inbox is not empty" }
            // Only Bob opens the envelope.
            checkEq(3u, expectThrows<CofferException.WrongIdentity> { Share.open(alice, share.envelope()) }.code)
            checkEq(id, Share.open(bob, share.envelope()).id())

            val book = ShareBook()
            checkEq(Accepted.NEW, book.accept(share, nowMs()))
            // Accepting it again is a replay.
            expectThrows<CofferException.Corrupt> { book.accept(share, nowMs()) }
            // The book persists sealed to Bob.
            val saved = book.toBytes(bob)
            val again = ShareBook.fromBytes(bob, saved)
            checkEq(listOf(id), again.shares().map { it.id() })
            checkEq(id, again.find(id.take(8)).id())
            checkEq(3u, expectThrows<CofferException.WrongIdentity> { ShareBook.fromBytes(alice, saved) }.code)

            val reader = SharedReader.open(store, again.shares()[0])
            checkBytes(b("meow"), reader.get(b("2026/cat.jpg")))
            checkBytes(b("woof"), reader.get(b("2026/dog.jpg")))
            val head = reader.head(b("2026/cat.jpg"))
            checkEq(4uL, head.size)
            checkEq("image/jpeg", head.contentType)
            checkEq(listOf("2026/cat.jpg", "2026/dog.jpg"), reader.list().contents.map { String(it.key) })
            checkEq(listOf("2026/dog.jpg"), reader.list(ListParams(prefix = b("2026/d"))).contents.map { String(it.key) })
            // Outside the scope: InvalidInput, for a read and for a listing.
            val oos = expectThrows<CofferException.InvalidInput> { runBlocking { reader.get(b("taxes.pdf")) } }
            checkEq(1u, oos.code)
            check(oos.detail.contains("scope")) { oos.detail }
            expectThrows<CofferException.InvalidInput> { runBlocking { reader.head(b("taxes.pdf")) } }
            expectThrows<CofferException.InvalidInput> { runBlocking { reader.list(ListParams(prefix = b("tax"))) } }
            checkEq(5u, expectThrows<CofferException.NotFound> { runBlocking { reader.get(b("2026/bird.jpg")) } }.code)
            // What Alice writes in scope later is readable through the same share.
            vault.put(b("2026/bird.jpg"), b("tweet"))
            checkBytes(b("tweet"), SharedReader.open(store, share).get(b("2026/bird.jpg")))
        }
        dir.deleteRecursively()
    }

    h.test("sharing: a short expiry; afterwards reads, opens and accepts are refused (PreconditionFailed)") {
        val dir = tempDir("coffer-kt-expiry")
        val (alice, bob) = Identity.generate() to Identity.generate()
        runBlocking {
            val vault = Vault.openDir(dir.path, alice, "docs", "laptop", OpenMode.CREATE)
            vault.put(b("notes/today.txt"), b("hello"))
            val id = vault.share(ShareScope.Prefix(b("notes/")), bob.recipient().toText(), nowMs() + 1_500uL)
            val store = CofferStore.dir(dir.path)
            val share = readInbox(store, bob).single().share!!
            val book = ShareBook()
            checkEq(Accepted.NEW, book.accept(share, nowMs()))
            val reader = SharedReader.open(store, share)
            checkBytes(b("hello"), reader.get(b("notes/today.txt")))
            delay(2_000)
            val e = expectThrows<CofferException.PreconditionFailed> { runBlocking { reader.get(b("notes/today.txt")) } }
            checkEq(8u, e.code)
            check(e.detail.contains("expired")) { e.detail }
            expectThrows<CofferException.PreconditionFailed> { runBlocking { reader.list() } }
            expectThrows<CofferException.PreconditionFailed> { runBlocking { SharedReader.open(store, share) } }
            expectThrows<CofferException.PreconditionFailed> { ShareBook().accept(share, nowMs()) }
            expectThrows<CofferException.PreconditionFailed> { share.checkTime(nowMs()) }
            checkEq(ShareStatus.EXPIRED, vault.shares().single { it.id == id }.status)
        }
        dir.deleteRecursively()
    }

    h.test("sharing: revoking Bob with Carol also shared; Carol accepts her new grant and keeps reading, Bob is refused") {
        val dir = tempDir("coffer-kt-revoke")
        val (alice, bob, carol) = Triple(Identity.generate(), Identity.generate(), Identity.generate())
        runBlocking {
            val vault = Vault.openDir(dir.path, alice, "team", "laptop", OpenMode.CREATE)
            vault.put(b("plans/q1.md"), b("q1"))
            val scope = ShareScope.Prefix(b("plans/"))
            val bobId = vault.share(scope, bob.recipient().toText(), nowMs() + HOUR_MS)
            val carolId = vault.share(scope, carol.recipient().toText(), nowMs() + HOUR_MS)
            val store = CofferStore.dir(dir.path)
            val bobBook = ShareBook()
            val carolBook = ShareBook()
            checkEq(listOf<Any>(Accepted.NEW), acceptInbox(store, bob, bobBook))
            checkEq(listOf<Any>(Accepted.NEW), acceptInbox(store, carol, carolBook))
            val bobShare = bobBook.find(bobId)
            checkBytes(b("q1"), SharedReader.open(store, bobShare).get(b("plans/q1.md")))
            checkBytes(b("q1"), SharedReader.open(store, carolBook.find(carolId)).get(b("plans/q1.md")))

            val report = vault.revoke(bobId)
            checkEq(1uL, report.grants, "grants delivered (Carol's)")
            check(report.epoch >= 2uL) { "epoch ${report.epoch}" }
            checkEq(ShareStatus.REVOKED, vault.shares().single { it.id == bobId }.status)
            checkEq(ShareStatus.ACTIVE, vault.shares().single { it.id == carolId }.status)
            vault.put(b("plans/q2.md"), b("q2 after the revocation"))

            // Bob: his share no longer opens, and his inbox holds nothing new.
            val revoked = expectThrows<CofferException.PreconditionFailed> { runBlocking { SharedReader.open(store, bobShare) } }
            checkEq(8u, revoked.code)
            check(acceptInbox(store, bob, bobBook).none { it is Accepted }) { "Bob accepted something new" }
            expectThrows<CofferException.PreconditionFailed> { runBlocking { SharedReader.open(store, bobBook.find(bobId)) } }

            // Carol: the old grant no longer opens either, until she accepts the new one.
            expectThrows<CofferException.PreconditionFailed> { runBlocking { SharedReader.open(store, carolBook.find(carolId)) } }
            val accepted = acceptInbox(store, carol, carolBook)
            check(accepted.contains(Accepted.UPDATED)) { "$accepted" }
            val carolShare = carolBook.find(carolId)
            checkEq(2uL, carolShare.grant())
            val reader = SharedReader.open(store, carolShare)
            checkBytes(b("q1"), reader.get(b("plans/q1.md")))
            checkBytes(b("q2 after the revocation"), reader.get(b("plans/q2.md")))

            // A rotation: Carol gets grant 3.
            val rot = vault.rotate(scope)
            checkEq(1uL, rot.grants)
            check(acceptInbox(store, carol, carolBook).contains(Accepted.UPDATED))
            checkEq(3uL, carolBook.find(carolId).grant())
            checkBytes(b("q1"), SharedReader.open(store, carolBook.find(carolId)).get(b("plans/q1.md")))
            // Unknown share ids and unshared scopes are InvalidInput.
            expectThrows<CofferException.InvalidInput> { runBlocking { vault.revoke("00".repeat(16)) } }
            expectThrows<CofferException.InvalidInput> { runBlocking { vault.rotate(ShareScope.Prefix(b("nothing/"))) } }
        }
        dir.deleteRecursively()
    }

    h.test("derived identities: a passphrase identity is deterministic; wallet signatures (vectors)") {
        val d = vectors("derived-identities.json")
        val pv = d["passphrase"].obj()["vectors"].list().map { it.obj() }.first { it["default_params"] == true }
        val pass = pv["passphrase"] as String
        val account = pv["account"] as String
        val a = Identity.fromPassphrase(pass, account)
        checkEq(pv["recipient"], a.recipient().toText(), "passphrase vector")
        checkEq(pv["identity"], a.toSecretString())
        // Deterministic: again, and with white space around the account.
        checkEq(a.recipient().toText(), Identity.fromPassphrase(pass, "  $account\n").recipient().toText())
        check(Identity.fromPassphrase(pass, "other@example.com").recipient().toText() != a.recipient().toText())
        checkEq(2u, expectThrows<CofferException.InvalidKey> { Identity.fromPassphrase("", account) }.code)
        expectThrows<CofferException.InvalidKey> { Identity.fromPassphrase(pass, "  ") }

        val w = d["wallet"].obj()
        checkEq(w["message"], walletMessage())
        val wvs = w["vectors"].list().map { it.obj() }
        check(wvs.isNotEmpty())
        for (wv in wvs) {
            val wid = Identity.fromWalletSignature((wv["signature"] as String).hexToBytes())
            checkEq(wv["recipient"], wid.recipient().toText(), "wallet vector ${wv["note"]}")
            checkEq(wv["identity"], wid.toSecretString())
        }
        for (bad in w["invalid"].list().map { it.obj() }) {
            val e = expectThrows<CofferException.InvalidKey> { Identity.fromWalletSignature((bad["signature"] as String).hexToBytes()) }
            checkEq(2u, e.code, "invalid wallet signature ${bad["note"]}")
        }

        checkEq(604_800_000uL, parseDurationMs("7d"))
        expectThrows<CofferException.InvalidInput> { parseDurationMs("7 parsecs") }
    }

    h.test("share links on S3 (SeaweedFS): Vault.shareLink, Link.parse, one HttpURLConnection GET, openResponse; expiry, tampering, no links on a directory") {
        val store = runBlocking {
            CofferStore.s3(seaweedSettings("kotlin-link"))
        }
        val alice = Identity.generate()
        val data = ByteArray(300_000) { (it % 251).toByte() }
        val url = runBlocking {
            val vault = Vault.openStore(store, alice, "links", "laptop", OpenMode.CREATE)
            vault.put(b("film.bin"), data, PutParams(contentType = "video/x-test"))
            vault.shareLink(b("film.bin"), nowMs() + HOUR_MS)
        }
        check(url.contains("X-Amz-Signature") && url.contains("#coffer-link-2.")) { url }
        // Anyone: no identity, no credentials.
        val link = Link.parse(url)
        checkEq("film.bin", link.name())
        checkEq("video/x-test", link.contentType())
        checkEq(data.size.toULong(), link.size())
        checkEq(alice.recipient().toText(), link.owner().toText())
        check(!link.fetchesCar())
        check(!link.fetchUrl().contains("#")) { "the fetch URL carries the fragment" }
        link.checkTime(nowMs())
        // One GET with HttpURLConnection: on the JVM and on Android alike.
        val conn = java.net.URL(link.fetchUrl()).openConnection() as java.net.HttpURLConnection
        val body = try {
            checkEq(200, conn.responseCode, "GET status")
            conn.inputStream.use { it.readBytes() }
        } finally {
            conn.disconnect()
        }
        checkBytes(data, link.openResponse(body, nowMs()), "opened link")
        // Past its expiry the SDK refuses, before and after a fetch.
        expectThrows<CofferException.PreconditionFailed> { link.checkTime(link.expiresMs()) }
        expectThrows<CofferException.PreconditionFailed> { link.openResponse(body, link.expiresMs()) }
        // Altered bytes, another fragment, or not a link at all: Corrupt.
        val altered = body.copyOf().also { it[it.size / 2] = (it[it.size / 2].toInt() xor 1).toByte() }
        expectThrows<CofferException.Corrupt> { link.openResponse(altered, nowMs()) }
        expectThrows<CofferException.Corrupt> { Link.parse(url.replace("#coffer-link-2.", "#coffer-link-2.AAAA")) }
        expectThrows<CofferException.Corrupt> { Link.parse("https://example.org/no-fragment") }
        // A directory store cannot make links.
        val dir = tempDir("coffer-kt-link")
        runBlocking {
            val local = Vault.openDir(dir.path, alice, "links", "laptop", OpenMode.CREATE)
            local.put(b("a"), b("a"))
            expectThrows<CofferException.InvalidInput> { runBlocking { local.shareLink(b("a"), nowMs() + HOUR_MS) } }
        }
        dir.deleteRecursively()
    }
}
