// examples/kotlin/android/NotesActivity.kt as Android runs it (on Robolectric): created on the main
// thread, it stores and reads back its note without blocking that thread, and keeps its identity.
package coffer.robolectric

import coffer.example.android.NotesActivity
import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Test
import org.junit.runner.RunWith
import org.robolectric.Robolectric
import org.robolectric.RobolectricTestRunner
import org.robolectric.annotation.Config
import org.robolectric.annotation.ConscryptMode
import java.io.File

@RunWith(RobolectricTestRunner::class)
@Config(sdk = [34])
@ConscryptMode(ConscryptMode.Mode.OFF)
class NotesActivityOnAndroid {
    @Test
    fun theExampleStoresItsNoteAndShowsItReadBack() {
        repeat(2) { round ->
            val controller = Robolectric.buildActivity(NotesActivity::class.java).setup()
            val activity = controller.get()
            runMainLooperUntil(what = "the note to show") { activity.status.text.isNotEmpty() }
            assertEquals("read back: Buy milk", activity.status.text.toString())
            assertTrue(File(activity.filesDir, "coffer/heads/notes").isDirectory)
            val identity = File(activity.noBackupFilesDir, "coffer-identity.txt")
            assertTrue("round $round: no identity file", identity.isFile)
            controller.pause().stop().destroy()
        }
    }
}
