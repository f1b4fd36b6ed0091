// What an Android app needs beyond the shared Kotlin tests, on Android's classes (API 34) under
// Robolectric: the app's files directory as the default store, calls from the main thread that do
// not run on it, and a scope's cancellation reaching Rust and the app's transport.
package coffer.robolectric

import android.os.Looper
import coffer.CofferException
import coffer.CofferStore
import coffer.Identity
import coffer.OpenMode
import coffer.ShareScope
import coffer.Vault
import coffer.cidRaw
import coffer.android.cofferStoreDir
import coffer.android.cofferTrustDir
import coffer.android.inApp
import coffer.android.openInApp
import coffer.derive
import coffer.get
import coffer.nowMs
import coffer.put
import coffer.readInbox
import coffer.test.MemoryTransport
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.CoroutineStart
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.Job
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.cancel
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import org.junit.Assert.assertArrayEquals
import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Assert.fail
import org.junit.Test
import org.junit.runner.RunWith
import org.robolectric.RobolectricTestRunner
import org.robolectric.RuntimeEnvironment
import org.robolectric.Shadows.shadowOf
import org.robolectric.annotation.Config
import org.robolectric.annotation.ConscryptMode
import java.io.File

/**
 * Runs the main looper (this test's thread: Robolectric's paused looper mode) until [condition]
 * holds; fails after [timeoutMs] of wall time.
 */
fun runMainLooperUntil(timeoutMs: Long = 60_000, what: String = "condition", condition: () -> Boolean) {
    val looper = shadowOf(Looper.getMainLooper())
    val deadline = System.currentTimeMillis() + timeoutMs
    while (!condition()) {
        check(System.currentTimeMillis() < deadline) { "timed out waiting for $what" }
        looper.idle()
        Thread.sleep(2)
    }
}

fun runMainLooperUntilDone(job: Job) = runMainLooperUntil(what = "the job") { job.isCompleted }

@RunWith(RobolectricTestRunner::class)
@Config(sdk = [34])
@ConscryptMode(ConscryptMode.Mode.OFF)
class AndroidSpecificsOnAndroid {
    private val app get() = RuntimeEnvironment.getApplication()

    @Test
    fun theAppsFilesDirectoryIsTheDefaultStore() {
        val dir = app.cofferStoreDir
        assertEquals(File(app.filesDir, "coffer"), dir)
        val (alice, bob) = Identity.generate() to Identity.generate()
        runBlocking {
            val vault = Vault.openInApp(app, alice, "photos", "phone")
            vault.put("2026/cat.jpg", "meow".encodeToByteArray())
            assertTrue("no vault heads under $dir", File(dir, "heads/photos").isDirectory)
            // Open it again (as an app does after a restart), and read through the app's store.
            val again = Vault.openInApp(app, alice, "photos", "phone", OpenMode.OPEN)
            assertArrayEquals("meow".encodeToByteArray(), again.get("2026/cat.jpg"))
            again.share(ShareScope.Prefix("2026/".encodeToByteArray()), bob.recipient().toText(), nowMs() + 3_600_000uL)
            val inbox = readInbox(CofferStore.inApp(app), bob)
            assertEquals(1, inbox.size)
            assertTrue(inbox[0].error ?: "", inbox[0].share != null)
        }
    }

    /**
     * openInApp keeps the trust memory in the app's files directory by default: after the store
     * serves an older head (here: the head file put back to its earlier bytes), reopening fails
     * with Untrusted (code 14) instead of showing the old state.
     */
    @Test
    fun openInAppRemembersWhatItSawAcrossAReopen() {
        assertEquals(File(app.filesDir, "coffer-trust"), app.cofferTrustDir)
        val alice = Identity.generate()
        runBlocking {
            val vault = Vault.openInApp(app, alice, "diary", "phone", OpenMode.CREATE)
            vault.put("today", "one".encodeToByteArray())
            val head = File(app.cofferStoreDir, "heads/diary").listFiles()!!.single { !it.name.startsWith(".") }
            val old = head.readBytes()
            vault.put("today", "two".encodeToByteArray())
            vault.close()
            assertTrue("no trust files in ${app.cofferTrustDir}", app.cofferTrustDir.list()!!.isNotEmpty())
            head.writeBytes(old)
            try {
                Vault.openInApp(app, alice, "diary", "phone", OpenMode.OPEN)
                fail("a rolled-back store was opened")
            } catch (e: CofferException.Untrusted) {
                assertEquals(14u, e.code)
            }
        }
    }

    /**
     * A suspend call started on the main thread returns control to it before the work is done:
     * sealing 8 MiB and writing it to the store run on coffer's threads, not on the caller's.
     * (`launch(start = UNDISPATCHED)` runs the call on this thread until it first suspends.)
     */
    @Test
    fun aPutStartedOnTheMainThreadDoesNotRunOnIt() {
        assertTrue("Robolectric runs tests on the main thread", Looper.getMainLooper().isCurrentThread)
        val vault = runBlocking { Vault.openInApp(app, Identity.generate(), "main-thread", "phone") }
        runBlocking { vault.put("warm-up", ByteArray(10)) } // classes loaded (and instrumented) once
        val data = ByteArray(8 shl 20) { (it % 251).toByte() }
        val ui = CoroutineScope(SupervisorJob() + Dispatchers.Main)
        val t0 = System.nanoTime()
        val job = ui.launch(start = CoroutineStart.UNDISPATCHED) { vault.put("big.bin", data) }
        val heldUs = (System.nanoTime() - t0) / 1000
        assertTrue("the put ran to its end on the main thread ($heldUs µs)", job.isActive)
        runMainLooperUntilDone(job)
        assertTrue(job.isCompleted && !job.isCancelled)
        val c0 = System.nanoTime()
        cidRaw(data) // synchronous: copies the same 8 MiB to Rust and hashes them (BLAKE3)
        val cidUs = (System.nanoTime() - c0) / 1000
        println("a put of 8 MiB started on the main thread held it for $heldUs µs before suspending; " +
            "baseline, a synchronous cidRaw of the same bytes: $cidUs µs")
        assertArrayEquals(data, runBlocking { vault.get("big.bin") })
        ui.cancel()
    }

    /** The passphrase derivation (Argon2id, 64 MiB) started on the main thread runs off it. */
    @Test
    fun deriveStartedOnTheMainThreadDoesNotRunOnIt() {
        val ui = CoroutineScope(SupervisorJob() + Dispatchers.Main)
        var derived: Identity? = null
        val job = ui.launch(start = CoroutineStart.UNDISPATCHED) { derived = Identity.derive("correct horse battery", "a@example.com") }
        assertTrue("the derivation ran on the main thread", job.isActive)
        runMainLooperUntilDone(job)
        assertEquals(
            Identity.fromPassphrase("correct horse battery", "a@example.com").recipient().toText(),
            derived?.recipient()?.toText(),
        )
        ui.cancel()
    }

    /**
     * Cancelling the scope a screen's calls run in (what a ViewModel's or an Activity's scope
     * does when it goes away) cancels the call in flight: Rust drops it, which cancels the app
     * transport's own coroutine; nothing is committed and the vault stays usable.
     */
    @Test
    fun cancellingTheScreensScopeCancelsTheCallInRustAndInTheTransport() {
        val t = MemoryTransport()
        val vault = runBlocking { Vault.openTransport(t, Identity.generate(), "slow", "phone", OpenMode.CREATE) }
        t.delayMs = 30_000
        val screen = CoroutineScope(SupervisorJob() + Dispatchers.Main)
        val job = screen.launch { vault.put("note.txt", "draft".encodeToByteArray()) }
        runMainLooperUntil(what = "a block write to start") { t.slowPutsStarted.get() > 0 }
        screen.cancel()
        runMainLooperUntilDone(job)
        assertTrue(job.isCancelled)
        runMainLooperUntil(10_000, "the transport's write to be cancelled") { t.slowPutsCancelled.get() > 0 }
        t.delayMs = 0
        runBlocking {
            assertTrue(vault.list().contents.isEmpty())
            vault.put("note.txt", "final".encodeToByteArray())
            assertArrayEquals("final".encodeToByteArray(), vault.get("note.txt"))
        }
    }
}
