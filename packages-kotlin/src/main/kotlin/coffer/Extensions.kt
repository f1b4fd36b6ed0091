// A thin idiomatic layer over the generated bindings (coffer.kt, generated at build time), for the
// JVM and Android alike; Android-only helpers are in src/android/kotlin.
package coffer

/** The stable numeric code of any coffer error (the table is in packages-kotlin/README.md). */
val CofferException.errorCode: UInt
    get() = when (this) {
        is CofferException.InvalidInput -> code
        is CofferException.InvalidKey -> code
        is CofferException.WrongIdentity -> code
        is CofferException.Corrupt -> code
        is CofferException.NotFound -> code
        is CofferException.NoSuchVault -> code
        is CofferException.AlreadyExists -> code
        is CofferException.PreconditionFailed -> code
        is CofferException.StoreUnavailable -> code
        is CofferException.StoreAccessDenied -> code
        is CofferException.Store -> code
        is CofferException.Unsupported -> code
        is CofferException.Internal -> code
        is CofferException.Untrusted -> code
        is CofferException.TrustStorage -> code
        is CofferException.NotWriter -> code
        is CofferException.WriteOutsideScope -> code
        is CofferException.HandedOver -> code
    }

/** Stores [data] under the UTF-8 [key]. */
suspend fun Vault.put(key: String, data: ByteArray, options: PutParams? = null): ObjectInfo =
    put(key.encodeToByteArray(), data, options)

/** Reads the current version of the UTF-8 [key]. */
suspend fun Vault.get(key: String): ByteArray = get(key.encodeToByteArray())

/** Deletes the UTF-8 [key]. */
suspend fun Vault.delete(key: String) = delete(key.encodeToByteArray())

/** The keys of a listing page as UTF-8 strings. */
val ListResult.keys: List<String> get() = contents.map { it.key.decodeToString() }

/**
 * [Identity.fromPassphrase] (Argon2id: 64 MiB and a fraction of a second) on
 * [kotlinx.coroutines.Dispatchers.Default], so that calling it from the main thread never blocks it.
 */
suspend fun Identity.Companion.derive(passphrase: String, account: String): Identity =
    kotlinx.coroutines.withContext(kotlinx.coroutines.Dispatchers.Default) { fromPassphrase(passphrase, account) }
