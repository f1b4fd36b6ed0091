// Stores a file in a coffer vault on a local directory and reads it back.
//
//   StoreFile VAULT_DIR INPUT OUTPUT
//
// The vault is created on first use with a new identity kept in VAULT_DIR/identity.txt (a secret:
// in an app it belongs in the platform keystore). Run by packages-kotlin/test-jvm.sh; the Android
// example is android/NotesActivity.kt.
package coffer.example

import coffer.Identity
import coffer.OpenMode
import coffer.PutParams
import coffer.Vault
import coffer.CofferException
import coffer.get
import coffer.keys
import coffer.put
import kotlinx.coroutines.runBlocking
import java.io.File
import kotlin.system.exitProcess

fun main(args: Array<String>) {
    if (args.size != 3) {
        System.err.println("usage: StoreFile VAULT_DIR INPUT OUTPUT")
        exitProcess(2)
    }
    val (dir, input, output) = args
    val idFile = File(dir, "identity.txt")
    File(dir).mkdirs()
    val identity = if (idFile.exists()) Identity.parse(idFile.readText()) else
        Identity.generate().also { idFile.writeText(it.toFileContents()) }

    try {
        runBlocking {
            // snippet:kotlin-jvm-quickstart
            val vault = Vault.openDir(File(dir, "store").path, identity, "files", "example", OpenMode.OPEN_OR_CREATE)
            val key = File(input).name
            val info = vault.put(key, File(input).readBytes(), PutParams(contentType = "application/octet-stream"))
            println("stored ${info.size} bytes as version ${info.version} (sealed: ${info.sealedLen} bytes)")
            File(output).writeBytes(vault.get(key))                    // verified and decrypted
            println("read back into $output; listing: ${vault.list().keys}")
            // end snippet:kotlin-jvm-quickstart
        }
    } catch (e: CofferException) {
        System.err.println("coffer error: ${e.message}")
        exitProcess(1)
    }
}
