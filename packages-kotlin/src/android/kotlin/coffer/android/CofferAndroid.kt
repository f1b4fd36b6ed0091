// Android specifics of the coffer Kotlin library (compiled into the AAR; needs android.*): the
// app's private files directory as the default store, and vault and store openers over it.
// Every suspend function of coffer is main-safe: the Rust side runs the work on its own threads,
// so a call from Dispatchers.Main suspends without blocking the main thread.
package coffer.android

import android.content.Context
import coffer.CofferStore
import coffer.Identity
import coffer.OpenMode
import coffer.TrustMemory
import coffer.Vault
import coffer.VaultOptions
import java.io.File

/** The directory of the app's default coffer store: `<filesDir>/coffer` (private to the app, removed with it). */
val Context.cofferStoreDir: File
    get() = File(filesDir, "coffer")

/**
 * The directory of the app's trust memory for its default store: `<filesDir>/coffer-trust`, next
 * to [cofferStoreDir] (what the device saw of each vault, so a store that rolls it back is refused
 * across restarts).
 */
val Context.cofferTrustDir: File
    get() = File(filesDir, "coffer-trust")

/**
 * Opens vault [vault] as writer [device] in the app's default store ([cofferStoreDir]), creating
 * the vault when missing unless [mode] says otherwise. [options] default to trust memory in
 * [cofferTrustDir]: reopening after the store served an older state fails with
 * `CofferException.Untrusted` (code 14).
 */
suspend fun Vault.Companion.openInApp(
    context: Context,
    identity: Identity,
    vault: String,
    device: String,
    mode: OpenMode = OpenMode.OPEN_OR_CREATE,
    options: VaultOptions = VaultOptions(trust = TrustMemory.dir(context.cofferTrustDir.path)),
): Vault = openDir(context.cofferStoreDir.path, identity, vault, device, mode, options)

/** The app's default store ([cofferStoreDir]) as a [CofferStore], for inboxes and share readers. */
fun CofferStore.Companion.inApp(context: Context): CofferStore = dir(context.cofferStoreDir.path)
