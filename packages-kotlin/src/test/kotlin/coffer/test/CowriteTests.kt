// JVM (and Robolectric) tests of read-write shares (docs/FORMAT.md §9.1) and owner identity
// rotation (§8), on a local directory store: Alice grants Bob write under a prefix, Bob writes
// with a SharedWriter, Alice merges; writes outside the prefix, after expiry and after revocation
// are refused; Alice hands the vault over to a new identity, and the old one is HandedOver.
package coffer.test

import coffer.*
import kotlinx.coroutines.*

private const val HOUR = 3_600_000uL

/** The newest grant of share [id] in [who]'s inbox. */
suspend fun grantOf(store: CofferStore, who: Identity, id: String): Share {
    val book = ShareBook()
    for (e in readInbox(store, who)) {
        val s = e.share ?: continue
        try {
            book.accept(s, nowMs())
        } catch (_: CofferException) {
            // an older grant of a share already held
        }
    }
    return book.find(id)
}

/** Alice's vault "team" in [dir] with a plan under docs/ and a private note. */
suspend fun teamVault(dir: java.io.File, alice: Identity, device: String = "laptop"): Vault {
    val v = Vault.openDir(dir.path, alice, "team", device, OpenMode.CREATE)
    v.put(b("docs/plan.md"), b("v0"))
    v.put(b("private/diary.md"), b("mine"))
    return v
}

/** [v]'s owner lets [who] write under docs/ until [expiresMs]: the share id and [who]'s writer. */
suspend fun docsWriter(v: Vault, store: CofferStore, who: Identity, expiresMs: ULong = nowMs() + HOUR): Pair<String, SharedWriter> {
    val id = v.share(ShareScope.Prefix(b("docs/")), who.recipient().toText(), expiresMs, write = true)
    return id to SharedWriter.open(store, who, grantOf(store, who, id))
}

fun cowriteTests(h: Harness) {
    h.test("the read-write sharing and rotation snippet of packages-kotlin/README.md runs as written") {
        val dir = tempDir("coffer-kt-readme-cowrite")
        val (alice, bob, alice2) = Triple(Identity.generate(), Identity.generate(), Identity.generate())
        val bobRecipientText = bob.recipient().toText()
        runBlocking {
            val vault = Vault.openDir(dir.path, alice, "team", "laptop", OpenMode.CREATE)
            // snippet:kotlin-cowrite
            // Alice lets Bob write under docs/ for a week.
            vault.share(ShareScope.Prefix("docs/".toByteArray()), bobRecipientText,
                        expiresMs = nowMs() + parseDurationMs("7d"), write = true)

            // Bob: his identity and the store.
            val store = CofferStore.dir(dir.path)
            val grant = readInbox(store, bob).mapNotNull { it.share }.first { it.canWrite() }
            val writer = SharedWriter.open(store, bob, grant)
            writer.put("docs/notes.md".toByteArray(), "from bob".toByteArray())  // outside docs/: WriteOutsideScope (17)
            writer.commit()                                      // once expired or revoked: PreconditionFailed (8)

            // Alice's next sync merges what co-writers committed (or vault.mergeCowriters()).
            vault.sync()
            val notes = vault.get("docs/notes.md")

            // Later, Alice hands the vault over to a new identity (nothing is re-encrypted).
            val rotation = vault.rotateIdentity(alice2)          // rotation.from, .to, .bytesWritten
            val owner = vault.owner()                            // alice2's recipient; vault.handovers(): the chain
            // Her other devices reopen the vault with alice2; with the old identity: HandedOver (18).
            // end snippet:kotlin-cowrite
            checkBytes(b("from bob"), notes)
            checkEq(alice2.recipient().toText(), owner.toText())
            checkEq(alice2.recipient().toText(), rotation.to)
            checkEq(listOf(rotation.handover), vault.handovers().map { it.cid })
            vault.put("docs/after.md", b("as alice2"))
            val phone = Vault.openDir(dir.path, alice2, "team", "phone", OpenMode.OPEN)
            phone.sync()
            checkBytes(b("as alice2"), phone.get(b("docs/after.md")))
            expectThrows<CofferException.HandedOver> { runBlocking { Vault.openDir(dir.path, alice, "team", "phone", OpenMode.OPEN) } }
        }
        dir.deleteRecursively()
    }

    h.test("read-write share: Bob writes under docs/ with a SharedWriter, Alice merges (mergeCowriters, sync); Carol read-only is NotWriter (16)") {
        val dir = tempDir("coffer-kt-cowrite")
        val (alice, bob, carol) = Triple(Identity.generate(), Identity.generate(), Identity.generate())
        runBlocking {
            val v = teamVault(dir, alice)
            val bobId = v.share(ShareScope.Prefix(b("docs/")), bob.recipient().toText(), nowMs() + HOUR, write = true)
            val carolId = v.share(ShareScope.Prefix(b("docs/")), carol.recipient().toText(), nowMs() + HOUR)
            val infos = v.shares().associateBy { it.id }
            checkEq(true, infos.getValue(bobId).write, "Bob's share grants write")
            checkEq(false, infos.getValue(carolId).write, "Carol's share is read-only")

            val store = CofferStore.dir(dir.path)
            val share = grantOf(store, bob, bobId)
            check(share.canWrite())
            checkEq(listOf("read", "write"), share.rights())
            val w = SharedWriter.open(store, bob, share)
            checkEq(bobId, w.share().id())
            checkEq(32, w.writerId().length, "writer id")
            val version = w.put(b("docs/notes.md"), b("from bob"), contentType = "text/markdown")
            check(version.startsWith("b")) { version }
            w.put(b("docs/plan.md"), b("v1 by bob"))
            // Not visible before the commit.
            v.sync()
            expectThrows<CofferException.NotFound> { runBlocking { v.get(b("docs/notes.md")) } }
            checkEq(1uL, w.commit(), "first commit's seq")
            checkBytes(b("from bob"), w.reader().get(b("docs/notes.md")), "Bob reads his commit")

            v.mergeCowriters()
            checkBytes(b("from bob"), v.get(b("docs/notes.md")))
            checkEq("text/markdown", v.head(b("docs/notes.md")).contentType)
            checkBytes(b("v1 by bob"), v.get(b("docs/plan.md")))
            checkEq(2, v.versions(b("docs/plan.md")).size, "Alice's version is kept")
            checkEq(0, v.skippedHeads().size, "skipped heads")

            w.delete(b("docs/notes.md"))
            checkEq(2uL, w.commit())
            v.sync()
            expectThrows<CofferException.NotFound> { runBlocking { v.get(b("docs/notes.md")) } }

            val carolShare = grantOf(store, carol, carolId)
            check(!carolShare.canWrite())
            checkBytes(b("v1 by bob"), SharedReader.open(store, carolShare).get(b("docs/plan.md")))
            val nw = expectThrows<CofferException.NotWriter> { runBlocking { SharedWriter.open(store, carol, carolShare) } }
            checkEq(16u, nw.code)
            checkEq(16u, nw.errorCode)
            expectThrows<CofferException.WrongIdentity> { runBlocking { SharedWriter.open(store, carol, share) } }
            // A version share cannot grant write.
            val ver = v.head(b("docs/plan.md")).version
            expectThrows<CofferException.InvalidInput> {
                runBlocking { v.share(ShareScope.Version(b("docs/plan.md"), ver), bob.recipient().toText(), nowMs() + HOUR, write = true) }
            }
        }
        dir.deleteRecursively()
    }

    h.test("read-write share: a write outside the prefix is WriteOutsideScope (17) and writes nothing") {
        val dir = tempDir("coffer-kt-cowrite-scope")
        val (alice, bob) = Identity.generate() to Identity.generate()
        runBlocking {
            val v = teamVault(dir, alice)
            val (_, w) = docsWriter(v, CofferStore.dir(dir.path), bob)
            val e = expectThrows<CofferException.WriteOutsideScope> { runBlocking { w.put(b("private/diary.md"), b("evil")) } }
            checkEq(17u, e.code)
            checkEq(17u, e.errorCode)
            check(e.detail.contains("private/diary.md")) { e.detail }
            expectThrows<CofferException.WriteOutsideScope> { runBlocking { w.delete(b("private/diary.md")) } }
            expectThrows<CofferException.WriteOutsideScope> { runBlocking { w.put(b("doc"), b("evil")) } }
            w.put(b("docs/ok.md"), b("fine"))
            w.commit()
            v.sync()
            checkBytes(b("mine"), v.get(b("private/diary.md")))
            checkBytes(b("fine"), v.get(b("docs/ok.md")))
            checkEq(0, v.skippedHeads().size)
        }
        dir.deleteRecursively()
    }

    h.test("read-write share: after expiry and after revocation the writer is refused (PreconditionFailed); what it committed before stays") {
        val dir = tempDir("coffer-kt-cowrite-revoke")
        val (alice, bob, carol) = Triple(Identity.generate(), Identity.generate(), Identity.generate())
        runBlocking {
            val v = teamVault(dir, alice)
            val store = CofferStore.dir(dir.path)
            // Expiry: Carol's right lasts 1.5 s.
            val (carolId, c) = docsWriter(v, store, carol, nowMs() + 1_500uL)
            c.put(b("docs/carol.md"), b("kept"))
            c.commit()
            v.sync()
            delay(2_000)
            val exp = expectThrows<CofferException.PreconditionFailed> { runBlocking { c.put(b("docs/late.md"), b("late")) } }
            check(exp.detail.contains("expired")) { exp.detail }
            expectThrows<CofferException.PreconditionFailed> { runBlocking { c.commit() } }
            checkBytes(b("kept"), v.get(b("docs/carol.md")))

            // Revocation: Bob's commit is merged by the revocation itself, then he is refused.
            val (bobId, w) = docsWriter(v, store, bob)
            w.put(b("docs/plan.md"), b("bob's edit"))
            w.commit()
            v.revoke(bobId)
            checkBytes(b("bob's edit"), v.get(b("docs/plan.md")))
            checkEq(2, v.versions(b("docs/plan.md")).size)
            expectThrows<CofferException.PreconditionFailed> { runBlocking { w.put(b("docs/late.md"), b("no")) } }
            expectThrows<CofferException.PreconditionFailed> { runBlocking { w.commit() } }
            v.sync()
            expectThrows<CofferException.NotFound> { runBlocking { v.get(b("docs/late.md")) } }
            val status = v.shares().associateBy { it.id }
            checkEq(ShareStatus.REVOKED, status.getValue(bobId).status)
            checkEq(ShareStatus.EXPIRED, status.getValue(carolId).status)
        }
        dir.deleteRecursively()
    }

    h.test("identity rotation: rotateIdentity, handovers, owner; the new identity reads everything, the old one is HandedOver (18)") {
        val dir = tempDir("coffer-kt-rotate")
        val (alice, alice2, bob) = Triple(Identity.generate(), Identity.generate(), Identity.generate())
        runBlocking {
            val v = teamVault(dir, alice)
            val phone = Vault.openDir(dir.path, alice, "team", "phone", OpenMode.OPEN)
            phone.put(b("docs/from-phone.md"), b("phone"))
            v.share(ShareScope.Prefix(b("docs/")), bob.recipient().toText(), nowMs() + HOUR)
            checkEq(alice.recipient().toText(), v.owner().toText())
            checkEq(0, v.handovers().size)
            // Not to itself, not to a share recipient.
            expectThrows<CofferException.InvalidInput> { runBlocking { v.rotateIdentity(alice) } }
            expectThrows<CofferException.InvalidInput> { runBlocking { v.rotateIdentity(bob) } }

            val r = v.rotateIdentity(alice2)
            checkEq(alice.recipient().toText(), r.from)
            checkEq(alice2.recipient().toText(), r.to)
            checkEq(false, r.resumed)
            checkEq(2uL, r.finalHeads, "the laptop's and the phone's last heads")
            checkEq(1uL, r.records, "Bob's share record")
            check(r.bytesWritten in 1uL..65_536uL) { "${r.bytesWritten}" }
            checkEq(alice2.recipient().toText(), v.owner().toText())
            val chain = v.handovers()
            checkEq(1, chain.size)
            checkEq(Handover(1uL, r.handover, alice.recipient().toText(), alice2.recipient().toText(), chain[0].timeMs), chain[0])
            v.put(b("docs/after.md"), b("as alice2"))

            // The old identity: its open device stops, and it can open the vault no more.
            val ho = expectThrows<CofferException.HandedOver> { runBlocking { phone.sync() } }
            checkEq(18u, ho.code)
            checkEq(18u, ho.errorCode)
            check(ho.detail.contains(alice2.recipient().toText())) { ho.detail }
            expectThrows<CofferException.HandedOver> { runBlocking { Vault.openDir(dir.path, alice, "team", "tablet", OpenMode.OPEN) } }
            // The new identity on a fresh device reads everything and writes.
            val fresh = Vault.openDir(dir.path, alice2, "team", "tablet", OpenMode.OPEN)
            fresh.sync()
            for ((k, t) in listOf("docs/plan.md" to "v0", "private/diary.md" to "mine", "docs/from-phone.md" to "phone", "docs/after.md" to "as alice2")) {
                checkBytes(b(t), fresh.get(b(k)), k)
            }
            fresh.put(b("docs/tablet.md"), b("tablet"))
            v.sync()
            checkBytes(b("tablet"), v.get(b("docs/tablet.md")))
            checkEq(0, v.skippedHeads().size)
            // The rotation carried Bob's share over (docs/THREATS.md, rotation): the grant the old
            // identity signed is retired (PreconditionFailed: revoked), and a new one, signed by
            // the new identity, reads what was written before and after.
            val store = CofferStore.dir(dir.path)
            val bobGrants = readInbox(store, bob).mapNotNull { it.share }
            val oldGrant = bobGrants.single { it.issuer().toText() == alice.recipient().toText() }
            val newGrant = bobGrants.single { it.issuer().toText() == alice2.recipient().toText() }
            expectThrows<CofferException.PreconditionFailed> { runBlocking { SharedReader.open(store, oldGrant) } }
            val bobReader = SharedReader.open(store, newGrant)
            checkBytes(b("as alice2"), bobReader.get(b("docs/after.md")))
            checkBytes(b("v0"), bobReader.get(b("docs/plan.md")))

            // openAndRotateIdentity after the fact: resumed, the vault opened with the new identity.
            val again = openAndRotateIdentity(store, alice, alice2, "team", "phone")
            checkEq(true, again.rotation.resumed)
            checkEq(r.handover, again.rotation.handover)
            checkEq(alice2.recipient().toText(), again.vault.owner().toText())
            again.vault.sync()
            checkBytes(b("as alice2"), again.vault.get(b("docs/after.md")))
            // To a third identity with the retired key: still HandedOver; back to the retired one: refused.
            expectThrows<CofferException.HandedOver> { runBlocking { openAndRotateIdentity(store, alice, Identity.generate(), "team", "phone") } }
            expectThrows<CofferException.InvalidInput> { runBlocking { v.rotateIdentity(alice) } }
        }
        dir.deleteRecursively()
    }

    h.test("identity rotation in one call from a fresh process: openAndRotateIdentity") {
        val dir = tempDir("coffer-kt-rotate-once")
        val (alice, alice2) = Identity.generate() to Identity.generate()
        runBlocking {
            teamVault(dir, alice).close()
            val store = CofferStore.dir(dir.path)
            val rv = openAndRotateIdentity(store, alice, alice2, "team", "laptop")
            checkEq(false, rv.rotation.resumed)
            checkEq(alice2.recipient().toText(), rv.vault.owner().toText())
            checkBytes(b("v0"), rv.vault.get(b("docs/plan.md")))
            expectThrows<CofferException.HandedOver> { runBlocking { Vault.openDir(dir.path, alice, "team", "laptop", OpenMode.OPEN) } }
        }
        dir.deleteRecursively()
    }
}
