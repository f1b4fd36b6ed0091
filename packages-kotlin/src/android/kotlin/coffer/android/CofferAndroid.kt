// Android specifics of the coffer Kotlin library (compiled into the AAR; needs android.*): the
// app's private files directory as the default store, and vault and store openers over it.
// Every suspend function of coffer is main-safe: the Rust side runs the work on its own threads,
// so a call from Dispatchers.Main suspends without blocking the main thread.
package coffer.android

import android.content.Context
import coffer.CofferStore
import coffer.Identity
import coffer.OpenMode
import coffer.Vault
import java.io.File

/** The directory of the app's default coffer store: `<filesDir>/coffer` (private to the app, removed with it). */
val Context.cofferStoreDir: File
    get() = File(filesDir, "coffer")

/**
 * Opens vault [vault] as writer [device] in the app's default store ([cofferStoreDir]), creating
 * the vault when missing unless [mode] says otherwise.
 */
suspend fun Vault.Companion.openInApp(
    context: Context,
    identity: Identity,
    vault: String,
    device: String,
    mode: OpenMode = OpenMode.OPEN_OR_CREATE,
): Vault = openDir(context.cofferStoreDir.path, identity, vault, device, mode)

/** The app's default store ([cofferStoreDir]) as a [CofferStore], for inboxes and share readers. */
fun CofferStore.Companion.inApp(context: Context): CofferStore = dir(context.cofferStoreDir.path)
