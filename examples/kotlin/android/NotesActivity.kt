// A first Android screen on coffer: keeps a note in a vault in the app's files directory and
// shows it read back. Run in CI on Android's classes under Robolectric (packages-kotlin's
// test-robolectric.sh: NotesActivityOnAndroid creates, shows and destroys it).
package coffer.example.android

import android.app.Activity
import android.os.Bundle
import android.widget.TextView
import coffer.CofferException
import coffer.Identity
import coffer.PutParams
import coffer.Vault
import coffer.android.openInApp
import coffer.errorCode
import coffer.get
import coffer.put
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.MainScope
import kotlinx.coroutines.cancel
import kotlinx.coroutines.launch
import kotlinx.coroutines.withContext
import java.io.File

class NotesActivity : Activity() {
    /** The screen's calls; cancelled (with any call in flight) when the screen goes away. */
    private val scope = MainScope()
    lateinit var status: TextView
        private set

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        status = TextView(this).also { setContentView(it) }
        // snippet:kotlin-android-quickstart
        scope.launch {                                   // on the main thread: every call suspends, none blocks it
            try {
                val me = identity()
                val vault = Vault.openInApp(this@NotesActivity, me, "notes", "phone")   // <filesDir>/coffer
                vault.put("today.txt", "Buy milk".encodeToByteArray(), PutParams(contentType = "text/plain"))
                val back = vault.get("today.txt").decodeToString()                     // verified and decrypted
                status.text = "read back: $back"
            } catch (e: CofferException) {               // a stable code: 5 NotFound, 4 Corrupt, 9 StoreUnavailable…
                status.text = "coffer error ${e.errorCode}: ${e.message}"
            }
        }
        // end snippet:kotlin-android-quickstart
    }

    override fun onDestroy() {
        scope.cancel()
        super.onDestroy()
    }

    /**
     * This app's identity, made on first use. Its text form is a secret: a real app encrypts it
     * with a key from the Android Keystore before writing it (kept out of backups here).
     */
    private suspend fun identity(): Identity = withContext(Dispatchers.IO) {
        val file = File(noBackupFilesDir, "coffer-identity.txt")
        if (file.exists()) Identity.parse(file.readText())
        else Identity.generate().also { file.writeText(it.toFileContents()) }
    }
}
