// Tests of the coffer Kotlin bindings, run against the host library on the JVM (test-jvm.sh) and on
// Android's classes under Robolectric (test-robolectric.sh).
package coffer.test

import coffer.*
import kotlinx.coroutines.*
import java.io.File
import java.nio.file.Files
import java.util.concurrent.ConcurrentHashMap
import java.util.concurrent.atomic.AtomicInteger
import kotlin.system.exitProcess

/** Plaintext byte i of the sealed vectors: (i*31) mod 251. */
fun sealedPattern(n: Int) = ByteArray(n) { ((it * 31) % 251).toByte() }

/** Bytes 0, 1, ..., 250 repeating (the outboard vectors). */
fun outboardPattern(n: Int) = ByteArray(n) { (it % 251).toByte() }

fun tempDir(prefix: String): File = Files.createTempDirectory(prefix).toFile()

/** S3 settings for the test SeaweedFS (`.ci/seaweedfs.sh`), under a fresh prefix starting with [tag]. */
fun seaweedSettings(tag: String) = S3Settings(
    bucket = System.getenv("COFFER_TEST_S3_BUCKET") ?: "coffer-test",
    endpoint = System.getenv("COFFER_TEST_S3_ENDPOINT") ?: error("COFFER_TEST_S3_ENDPOINT is not set"),
    region = System.getenv("AWS_REGION") ?: "us-east-1",
    prefix = "$tag-${System.nanoTime()}",
    pathStyle = true,
    credentials = S3Credentials(
        System.getenv("AWS_ACCESS_KEY_ID") ?: error("AWS_ACCESS_KEY_ID is not set"),
        System.getenv("AWS_SECRET_ACCESS_KEY") ?: error("AWS_SECRET_ACCESS_KEY is not set"),
    ),
)

/**
 * An app-provided transport: blocks and heads in memory. `failWith` makes every call throw,
 * `delayMs` makes block writes slow (for cancellation).
 */
class MemoryTransport : Transport {
    val blocks = ConcurrentHashMap<String, ByteArray>()
    private val heads = HashMap<Pair<String, String>, HeadRecord>()
    private val counter = AtomicInteger()
    @Volatile var failWith: Throwable? = null
    @Volatile var delayMs: Long = 0
    val calls = AtomicInteger()
    /** Slow block writes that started, and those cancelled midway (Rust dropped their future). */
    val slowPutsStarted = AtomicInteger()
    val slowPutsCancelled = AtomicInteger()

    private fun gate() {
        calls.incrementAndGet()
        failWith?.let { throw it }
    }

    override suspend fun putBlock(cid: String, bytes: ByteArray) {
        gate()
        if (delayMs > 0) {
            slowPutsStarted.incrementAndGet()
            try {
                delay(delayMs)
            } catch (e: CancellationException) {
                slowPutsCancelled.incrementAndGet()
                throw e
            }
        }
        blocks[cid] = bytes.copyOf()
    }

    override suspend fun getBlock(cid: String): ByteArray? {
        gate()
        return blocks[cid]?.copyOf()
    }

    override suspend fun getBlockRange(cid: String, start: ULong, end: ULong): ByteArray? {
        gate()
        val b = blocks[cid] ?: return null
        if (end > b.size.toULong() || start > end) throw TransportException.Failed("range $start..$end outside ${b.size} bytes")
        return b.copyOfRange(start.toInt(), end.toInt())
    }

    override suspend fun hasBlock(cid: String): Boolean {
        gate()
        return blocks.containsKey(cid)
    }

    override suspend fun deleteBlock(cid: String) {
        gate()
        blocks.remove(cid)
    }

    override suspend fun listBlocks(): List<String> {
        gate()
        return blocks.keys.toList()
    }

    override suspend fun readHeads(vault: String): List<HeadRecord> {
        gate()
        synchronized(heads) { return heads.filterKeys { it.first == vault }.values.toList() }
    }

    override suspend fun writeHead(vault: String, writer: String, bytes: ByteArray, condition: HeadWriteCondition): String {
        gate()
        synchronized(heads) {
            val cur = heads[vault to writer]
            val ok = when (condition) {
                is HeadWriteCondition.Absent -> cur == null
                is HeadWriteCondition.Matches -> cur?.version == condition.version
                is HeadWriteCondition.Unconditional -> true
            }
            if (!ok) throw TransportException.PreconditionFailed("head of $writer in $vault changed")
            val version = "v${counter.incrementAndGet()}"
            heads[vault to writer] = HeadRecord(writer, bytes.copyOf(), version)
            return version
        }
    }

    override fun enforcesConditions(): Boolean = true
}

fun b(s: String) = s.toByteArray()

/** Exercises one vault on any store: the same checks for the directory, S3 and a transport. */
suspend fun exerciseVault(open: suspend (device: String, mode: OpenMode) -> Vault) {
    val laptop = open("laptop", OpenMode.CREATE)
    checkEq("laptop", laptop.device())
    val big = outboardPattern(300_000)
    val v1 = laptop.put(b("docs/a.txt"), b("hello"), PutParams(contentType = "text/plain", metadata = mapOf("k" to "v")))
    checkEq(5uL, v1.size)
    laptop.put(b("docs/big.bin"), big)
    checkBytes(b("hello"), laptop.get(b("docs/a.txt")))
    checkBytes(big, laptop.get(b("docs/big.bin")), "big object")
    checkBytes(big.copyOfRange(70_000, 140_001), laptop.getRange(b("docs/big.bin"), 70_000uL, 140_001uL), "range")
    val head = laptop.head(b("docs/a.txt"))
    checkEq("text/plain", head.contentType)
    checkEq(mapOf("k" to "v"), head.metadata)
    checkEq(v1.version, head.version)
    // Conditional puts.
    val e = expectThrows<CofferException.PreconditionFailed> {
        runBlocking { laptop.put(b("docs/a.txt"), b("again"), PutParams(ifAbsent = true)) }
    }
    checkEq(8u, e.code)
    val v2 = laptop.put(b("docs/a.txt"), b("hello v2"), PutParams(ifMatch = v1.version))
    val versions = laptop.versions(b("docs/a.txt"))
    checkEq(listOf(v2.version, v1.version), versions.map { it.version }, "versions newest first")
    checkBytes(b("hello"), laptop.getVersion(b("docs/a.txt"), v1.version))
    // Listing with a delimiter.
    laptop.put(b("top.txt"), b("t"))
    val page = laptop.list(ListParams(delimiter = b("/")))
    checkEq(listOf("top.txt"), page.contents.map { String(it.key) })
    checkEq(listOf("docs/"), page.commonPrefixes.map { String(it) })
    val docs = laptop.list(ListParams(prefix = b("docs/")))
    checkEq(listOf("docs/a.txt", "docs/big.bin"), docs.contents.map { String(it.key) })
    // Copy, delete, delete_many.
    laptop.copy(b("top.txt"), b("copy.txt"))
    checkBytes(b("t"), laptop.get(b("copy.txt")))
    laptop.delete(b("copy.txt"))
    val nf = expectThrows<CofferException.NotFound> { runBlocking { laptop.get(b("copy.txt")) } }
    checkEq(5u, nf.code)
    val outcomes = laptop.deleteMany(listOf(b("top.txt"), b("missing")))
    checkEq(listOf(null, 5u), outcomes.map { it.errorCode }, "delete_many outcomes")
    // A second device sees the changes after sync.
    val phone = open("phone", OpenMode.OPEN)
    expectThrows<CofferException.NotFound> { runBlocking { phone.get(b("docs/a.txt")) } }
    val report = phone.sync()
    check(report.merged.isNotEmpty()) { "sync merged nothing" }
    checkBytes(b("hello v2"), phone.get(b("docs/a.txt")))
    checkBytes(big, phone.get(b("docs/big.bin")))
    // Creating it again fails; bad keys are invalid input.
    val ae = expectThrows<CofferException.AlreadyExists> { runBlocking { open("tablet", OpenMode.CREATE) } }
    checkEq(7u, ae.code)
    val ie = expectThrows<CofferException.InvalidInput> { runBlocking { laptop.put(ByteArray(2000), b("x")) } }
    checkEq(1u, ie.code)
}

/** Trust storage an app could write (here a map; a real one would persist it, e.g. in a database). */
class MapTrustStorage : TrustStorage {
    val docs = ConcurrentHashMap<String, ByteArray>()
    @Volatile var failing = false

    override suspend fun load(name: String): ByteArray? {
        if (failing) throw TrustStorageException.Failed("disk full")
        return docs[name]
    }

    override suspend fun save(name: String, bytes: ByteArray) {
        docs[name] = bytes
    }
}

/**
 * Opens a vault in a fresh directory store with [options] (given a directory for trust files),
 * writes two versions, puts the first head file back under `heads/<vault>/` (what a hostile or
 * restored store does), reopens with the same trust memory and returns the error, or `null` when
 * the reopen served the old state.
 */
fun reopenAfterRollback(options: (File) -> VaultOptions?): CofferException? = runBlocking {
    val store = tempDir("coffer-kt-store")
    val trustDir = File(tempDir("coffer-kt-trust"), "trust")
    val me = Identity.generate()
    try {
        val v = Vault.openDir(store.path, me, "notes", "phone", OpenMode.CREATE, options(trustDir))
        v.put(b("note"), b("one"))
        val head = File(store, "heads/notes").listFiles()!!.single { !it.name.startsWith(".") }
        val old = head.readBytes()
        v.put(b("note"), b("two"))
        checkEq(19, v.stateFingerprint().length, "fingerprint XXXX-XXXX-XXXX-XXXX")
        checkEq(0, v.skippedHeads().size, "skipped heads")
        v.close()
        head.writeBytes(old)
        try {
            val again = Vault.openDir(store.path, me, "notes", "phone", OpenMode.OPEN, options(trustDir))
            checkBytes(b("one"), again.get(b("note")), "the rolled-back state")
            again.close()
            null
        } catch (e: CofferException) {
            e
        }
    } finally {
        store.deleteRecursively()
        trustDir.parentFile.deleteRecursively()
    }
}

/** Every Kotlin test case (run on the JVM by [main] and on Android's classes by the Robolectric suite). */
fun allTests(): Harness = Harness().also {
    coreTests(it)
    shareTests(it)
    cowriteTests(it)
}

fun main() {
    exitProcess(allTests().runAll())
}

/** Identities, sealing, vectors, vaults on every store, typed errors, cancellation. */
fun coreTests(h: Harness) {
    val ids = vectors("identities.json")["vectors"].list().map { it.obj() }

    h.test("identity vectors: seed -> recipient, secret text, signature") {
        for (v in ids) {
            val id = Identity.fromSeed((v["seed"] as String).hexToBytes())
            checkEq(v["recipient"], id.recipient().toText())
            checkEq(v["identity"], id.toSecretString())
            checkEq(v["recipient"], Identity.parse(v["identity"] as String).recipient().toText())
            checkBytes((v["signature_of_hello"] as String).hexToBytes(), id.sign(b("hello")))
            val r = Recipient.parse(v["recipient"] as String)
            checkBytes((v["x25519_public"] as String).hexToBytes(), r.x25519PublicKey())
            checkBytes((v["ed25519_public"] as String).hexToBytes(), r.ed25519PublicKey())
            check(r.verify(b("hello"), (v["signature_of_hello"] as String).hexToBytes()))
            check(!r.verify(b("hellO"), (v["signature_of_hello"] as String).hexToBytes()))
            checkEq(r, id.recipient(), "recipient equality")
        }
    }

    h.test("identity file round trip and generate") {
        val id = Identity.generate()
        val again = Identity.parse(id.toFileContents())
        checkEq(id.recipient().toText(), again.recipient().toText())
        check(id.recipient().toString().startsWith("coffer1"))
    }

    h.test("invalid recipient and identity text give InvalidKey (code 2)") {
        val good = ids[0]["recipient"] as String
        val mistyped = good.dropLast(1) + (if (good.last() == 'q') 'p' else 'q')
        for (bad in listOf("", "coffer1", "not a key", mistyped, ids[0]["identity"] as String)) {
            val e = expectThrows<CofferException.InvalidKey> { Recipient.parse(bad) }
            checkEq(2u, e.code)
            check(e.message!!.isNotEmpty())
        }
        expectThrows<CofferException.InvalidKey> { Identity.parse(good) }
        expectThrows<CofferException.InvalidKey> { Identity.fromSeed(ByteArray(31)) }
        // The message of a bad secret never echoes it.
        val secret = ids[0]["identity"] as String
        val e = expectThrows<CofferException.InvalidKey> { Identity.parse(secret.dropLast(2) + "QQ") }
        check(!e.message!!.contains(secret.substring(20, 40))) { "secret echoed in error" }
    }

    h.test("sealed vectors open (Rust sealed, Kotlin opens) with matching CID and BLAKE3") {
        val vs = vectors("sealed.json")["vectors"].list().map { it.obj() }
        check(vs.isNotEmpty())
        for (v in vs) {
            val sealed = (v["sealed"] as String).hexToBytes()
            checkEq(v["cid"], cidRaw(sealed), "cid of ${v["name"]}")
            checkEq(v["blake3"], blake3Hex(sealed), "blake3 of ${v["name"]}")
            cidVerify(v["cid"] as String, sealed)
            for (seed in v["recipient_seeds"].list()) {
                val opened = open(Identity.fromSeed((seed as String).hexToBytes()), sealed)
                checkBytes((v["plaintext"] as String).hexToBytes(), opened.plaintext, "plaintext of ${v["name"]}")
                val signer = v["signer_seed"] as String?
                if (signer == null) check(opened.signer == null)
                else checkEq(Identity.fromSeed(signer.hexToBytes()).recipient().toText(), opened.signer?.toText())
            }
        }
    }

    h.test("wrong identity gives WrongIdentity (code 3); tampering gives Corrupt (code 4)") {
        val v = vectors("sealed.json")["vectors"].list().map { it.obj() }.first { (it["plaintext"] as String).length > 2 }
        val sealed = (v["sealed"] as String).hexToBytes()
        val e = expectThrows<CofferException.WrongIdentity> { open(Identity.generate(), sealed) }
        checkEq(3u, e.code)
        val me = Identity.fromSeed((v["recipient_seeds"].list()[0] as String).hexToBytes())
        val tampered = sealed.copyOf().also { it[it.size - 3] = (it[it.size - 3].toInt() xor 1).toByte() }
        checkEq(4u, expectThrows<CofferException.Corrupt> { open(me, tampered) }.code)
        expectThrows<CofferException.Corrupt> { open(me, sealed.copyOf(sealed.size - 1)) }
        expectThrows<CofferException.Corrupt> { cidVerify(v["cid"] as String, tampered) }
        checkEq(1u, expectThrows<CofferException.InvalidInput> { cidVerify("bafy-not-a-cid", sealed) }.code)
    }

    h.test("cid vectors") {
        for (v in vectors("cid.json")["vectors"].list().map { it.obj() }) {
            val bytes = (v["bytes"] as String).hexToBytes()
            checkEq(v["cid_raw"], cidRaw(bytes))
            checkEq(v["cid_dag_cbor"], cidDagCbor(bytes))
        }
    }

    h.test("outboard vectors: root, outboard, whole and range verification") {
        for (c in vectors("outboard.json")["cases"].list().map { it.obj() }) {
            val len = (c["input_len"] as Long).toInt()
            val data = outboardPattern(len)
            val ob = computeOutboard(data)
            checkEq(c["root"], ob.root, "root of $len")
            checkBytes((c["outboard"] as String).hexToBytes(), ob.outboard, "outboard of $len")
            verifyOutboard(ob.root, data, ob.outboard)
            for (r in c["ranges"].list().map { it.obj() }) {
                val start = (r["start"] as Long).toULong()
                val end = (r["end"] as Long).toULong()
                val cov = coveringRange(len.toULong(), start, end)
                checkEq((r["covering_start"] as Long).toULong(), cov.start)
                checkEq((r["covering_end"] as Long).toULong(), cov.end)
                val got = verifyRange(ob.root, len.toULong(), ob.outboard, start, end, data.copyOfRange(cov.start.toInt(), cov.end.toInt()))
                checkBytes(data.copyOfRange(start.toInt(), end.toInt()), got)
            }
            if (len > 0) {
                val bad = data.copyOf().also { it[len / 2] = (it[len / 2].toInt() xor 1).toByte() }
                expectThrows<CofferException.Corrupt> { verifyOutboard(ob.root, bad, ob.outboard) }
            }
        }
    }

    h.test("Kotlin seals for Rust: writes an object the coffer CLI opens") {
        val out = File(System.getenv("COFFER_KT_OUT") ?: error("COFFER_KT_OUT is not set"))
        out.mkdirs()
        val id = Identity.generate()
        val plaintext = sealedPattern(200_000)
        val sealed = seal(plaintext, listOf(id.recipient()), id, 12u)
        checkBytes(plaintext, open(id, sealed).plaintext)
        File(out, "identity.txt").writeText(id.toFileContents())
        File(out, "recipient.txt").writeText(id.recipient().toText())
        File(out, "kotlin.sealed").writeBytes(sealed)
        File(out, "kotlin.plain").writeBytes(plaintext)
        checkEq(1u, expectThrows<CofferException.InvalidInput> { seal(plaintext, listOf(), null, null) }.code)
    }

    h.test("post-quantum and did:key recipients: vectors, sealing, a post-quantum vault") {
        val pq = vectors("post-quantum.json")
        for (v in pq["identities"].list().map { it.obj() }) {
            val id = Identity.fromSeed((v["seed"] as String).hexToBytes())
            checkEq(v["recipient_pq"], id.postQuantumRecipient().toText())
            checkEq(v["did_key"], id.didKey())
            val r = Recipient.parse(v["recipient_pq"] as String)
            check(r.isPostQuantum() && r.sameIdentity(id.recipient()))
            val did = Recipient.parse(v["did_key"] as String)
            checkBytes((v["did_x25519_public"] as String).hexToBytes(), did.x25519PublicKey())
            checkEq(v["did_key"], did.toDidKey())
        }
        for (v in pq["sealed"].list().map { it.obj() }) {
            val sealed = (v["sealed"] as String).hexToBytes()
            for (seed in v["recipient_seeds"].list()) {
                val opened = open(Identity.fromSeed((seed as String).hexToBytes()), sealed)
                checkBytes((v["plaintext"] as String).hexToBytes(), opened.plaintext, "plaintext of ${v["name"]}")
            }
        }
        val alice = Identity.generate()
        val bob = Identity.generate()
        val carol = Identity.generate()
        val sealed = seal(b("hybrid"), listOf(bob.postQuantumRecipient(), Recipient.parse(carol.didKey())), alice)
        for (who in listOf(bob, carol)) {
            val opened = open(who, sealed)
            checkBytes(b("hybrid"), opened.plaintext)
            check(opened.signer!!.sameIdentity(Recipient.parse(alice.didKey())))
        }
        expectThrows<CofferException.WrongIdentity> { open(alice, sealed) }
        // An X25519 did:key is another key type: InvalidKey.
        checkEq(2u, expectThrows<CofferException.InvalidKey> {
            Recipient.parse("did:key:z6LShLeXRTzevtwcfehaGEzCMyL3bNsAeKCwcqwJxyCo63yE")
        }.code)
        val dir = tempDir("coffer-kt-pq")
        runBlocking {
            val v = Vault.openDir(dir.path, alice, "pq", "laptop", OpenMode.CREATE, VaultOptions(postQuantum = true))
            v.put(b("a.txt"), b("quantum-safe"))
            val again = Vault.openDir(dir.path, alice, "pq", "phone", OpenMode.OPEN)
            again.sync()
            checkBytes(b("quantum-safe"), again.get(b("a.txt")))
        }
        dir.deleteRecursively()
    }

    h.test("vault on a local directory") {
        val dir = tempDir("coffer-kt-dir")
        val me = Identity.generate()
        runBlocking {
            checkEq(6u, expectThrows<CofferException.NoSuchVault> {
                runBlocking { Vault.openDir(dir.path, me, "photos", "laptop", OpenMode.OPEN) }
            }.code)
            exerciseVault { device, mode -> Vault.openDir(dir.path, me, "photos", device, mode) }
            // Another identity cannot open it.
            val other = expectThrows<CofferException.WrongIdentity> {
                runBlocking { Vault.openDir(dir.path, Identity.generate(), "photos", "x", OpenMode.OPEN) }
            }
            checkEq(3u, other.code)
        }
        dir.deleteRecursively()
    }

    h.test("files stream in and out with bounded memory; tags change without a new version") {
        val dir = tempDir("coffer-kt-files")
        val me = Identity.generate()
        runBlocking {
            val v = Vault.openDir(File(dir, "store").path, me, "files", "laptop", OpenMode.CREATE)
            val src = File(dir, "video.bin")
            val data = outboardPattern(3_000_001)
            src.writeBytes(data)
            val info = v.putFile(b("videos/v.bin"), src.path, PutParams(tags = mapOf("album" to "2026")))
            checkEq(3_000_001uL, info.size)
            val out = File(dir, "out/v.bin")
            out.parentFile.mkdirs()
            v.getToFile(b("videos/v.bin"), out.path)
            checkBytes(data, out.readBytes(), "streamed round trip")
            // The same file again seals to the same object (what makes uploads resumable).
            checkEq(info.dataCid, v.putFile(b("videos/v.bin"), src.path).dataCid)
            checkEq(mapOf<String, String>(), v.tags(b("videos/v.bin")), "a new put replaces tags")
            v.setTags(b("videos/v.bin"), mapOf("state" to "final"))
            checkEq(mapOf("state" to "final"), v.tags(b("videos/v.bin")))
            val missing = expectThrows<CofferException.InvalidInput> {
                runBlocking { v.putFile(b("x"), File(dir, "no-such-file").path) }
            }
            checkEq(1u, missing.code)
            val nf = expectThrows<CofferException.NotFound> {
                runBlocking { v.getToFile(b("nope"), File(dir, "never").path) }
            }
            checkEq(5u, nf.code)
            check(!File(dir, "never").exists()) { "a failed get left a file" }
        }
        dir.deleteRecursively()
    }

    h.test("vault on S3 (SeaweedFS)") {
        val settings = seaweedSettings("kotlin")
        // Printing the settings never shows the secret.
        val secret = System.getenv("AWS_SECRET_ACCESS_KEY")!!
        check(secret.length < 8 || !settings.toString().contains(secret)) { "secret printed" }
        check(settings.toString().contains("<redacted>")) { settings.toString() }
        check(settings.toString().contains(System.getenv("AWS_ACCESS_KEY_ID")!!)) { settings.toString() }
        val me = Identity.generate()
        runBlocking { exerciseVault { device, mode -> Vault.openS3(settings, me, "photos", device, mode) } }
        // Wrong credentials: a typed access-denied error.
        val bad = settings.copy(credentials = S3Credentials(System.getenv("AWS_ACCESS_KEY_ID")!!, "wrong-secret"), prefix = "kotlin-bad-${System.nanoTime()}")
        val e = expectThrows<CofferException> { runBlocking { Vault.openS3(bad, me, "photos", "laptop", OpenMode.OPEN_OR_CREATE) } }
        check(e is CofferException.StoreAccessDenied || e is CofferException.Store) { "unexpected $e" }
    }

    h.test("vault over a Kotlin transport (in-memory map)") {
        val t = MemoryTransport()
        val me = Identity.generate()
        runBlocking { exerciseVault { device, mode -> Vault.openTransport(t, me, "notes", device, mode) } }
        check(t.blocks.isNotEmpty())
        // Every block the transport holds is named by its CID.
        for ((cid, bytes) in t.blocks) cidVerify(cid, bytes)
    }

    h.test("a transport that throws gives typed store errors") {
        val t = MemoryTransport()
        val me = Identity.generate()
        runBlocking {
            val v = Vault.openTransport(t, me, "notes", "laptop", OpenMode.CREATE)
            v.put(b("a"), b("1"))
            t.failWith = TransportException.Unavailable("network down")
            val e1 = expectThrows<CofferException.StoreUnavailable> { runBlocking { v.put(b("b"), b("2")) } }
            checkEq(9u, e1.code)
            check(e1.detail.contains("network down")) { e1.detail }
            t.failWith = TransportException.AccessDenied("no token")
            checkEq(10u, expectThrows<CofferException.StoreAccessDenied> { runBlocking { v.put(b("b"), b("2")) } }.code)
            t.failWith = IllegalStateException("boom from Kotlin")
            val e3 = expectThrows<CofferException.Store> { runBlocking { v.put(b("b"), b("2")) } }
            checkEq(11u, e3.code)
            check(e3.detail.contains("boom from Kotlin")) { e3.detail }
            t.failWith = null
            // The vault still works after the failures.
            v.put(b("b"), b("2"))
            checkBytes(b("2"), v.get(b("b")))
            // A transport that returns wrong bytes is caught by verification.
            for (k in t.blocks.keys) t.blocks[k] = b("forged")
            checkEq(4u, expectThrows<CofferException.Corrupt> { runBlocking { v.get(b("a")) } }.errorCode)
            // Opening the vault anew on forged blocks is refused too: its key block is damaged.
            checkEq(4u, expectThrows<CofferException.Corrupt> {
                runBlocking { Vault.openTransport(t, me, "notes", "phone", OpenMode.OPEN) }
            }.errorCode)
        }
    }

    h.test("cancelling a coroutine cancels the call in Rust and the transport's call in flight; the vault stays usable") {
        val t = MemoryTransport()
        val me = Identity.generate()
        runBlocking {
            val v = Vault.openTransport(t, me, "slow", "laptop", OpenMode.CREATE)
            t.delayMs = 30_000
            val job = launch(Dispatchers.Default) { v.put(b("k"), ByteArray(1000)) }
            withTimeout(30_000) { while (t.slowPutsStarted.get() == 0) delay(5) }
            job.cancelAndJoin()
            check(job.isCancelled)
            // Rust dropped the put, and with it the Kotlin transport's putBlock coroutine.
            withTimeout(10_000) { while (t.slowPutsCancelled.get() == 0) delay(5) }
            expectThrows<CofferException.NotFound> { runBlocking { v.get(b("k")) } }
            t.delayMs = 0
            val r = withTimeoutOrNull(60_000) { v.put(b("k2"), b("after")) }
            check(r != null) { "vault blocked after cancellation" }
            checkBytes(b("after"), v.get(b("k2")))
            // withTimeout on a directory vault.
            val dir = tempDir("coffer-kt-cancel")
            val dv = Vault.openDir(dir.path, me, "c", "d", OpenMode.CREATE)
            repeat(5) {
                withTimeoutOrNull(1) { dv.put(b("x$it"), ByteArray(500_000)) }
            }
            dv.put(b("y"), b("ok"))
            checkBytes(b("ok"), dv.get(b("y")))
            dir.deleteRecursively()
        }
    }

    h.test("trust memory in a directory refuses a rollback across a reopen; without it the old state is served") {
        val e = reopenAfterRollback { dir -> VaultOptions(trust = TrustMemory.dir(dir.path)) }
        checkEq(14u, e!!.errorCode)
        check(e is CofferException.Untrusted && e.message!!.contains("rolled it back")) { "$e" }
        checkEq(null, reopenAfterRollback { null }, "no trust memory: no error (the documented default)")
    }

    h.test("an app's TrustStorage keeps the trust memory; its failures are TrustStorage (code 15)") {
        val storage = MapTrustStorage()
        val e = reopenAfterRollback { VaultOptions(trust = TrustMemory.custom(storage)) }
        checkEq(14u, e!!.errorCode)
        check(storage.docs.isNotEmpty()) { "nothing was saved in the app's storage" }
        storage.failing = true
        val f = expectThrows<CofferException.TrustStorage> {
            runBlocking {
                Vault.openDir(tempDir("coffer-kt-trust").path, Identity.generate(), "v", "a", OpenMode.CREATE,
                    VaultOptions(trust = TrustMemory.custom(storage)))
            }
        }
        checkEq(15u, f.code)
        check(f.message!!.contains("disk full")) { "$f" }
    }

    h.test("README trust snippet: trust memory next to the store") {
        val filesDir = tempDir("coffer-kt-files")
        val me = Identity.generate()
        runBlocking {
            // snippet:kotlin-trust
            // Keep what this device saw of the vault across restarts, next to the store:
            val trust = TrustMemory.dir(File(filesDir, "coffer-trust").path)
            val vault = Vault.openDir(File(filesDir, "coffer").path, me, "notes", "phone",
                OpenMode.OPEN_OR_CREATE, VaultOptions(trust = trust))
            // A store that serves an older state later throws CofferException.Untrusted (code 14).
            // end snippet:kotlin-trust
            vault.put(b("k"), b("v"))
            check(File(filesDir, "coffer-trust").list()!!.isNotEmpty()) { "no trust files" }
        }
        filesDir.deleteRecursively()
    }

    h.test("error codes are the documented table") {
        val e = CofferException.Internal(13u, "x")
        checkEq(13u, e.code)
        check(e.message!!.contains("x"))
        checkEq(coreVersion().isNotEmpty(), true)
    }

}
