// Stores a file in a coffer vault on a local directory and reads it back.
//
//   StoreFile VAULT_DIR INPUT OUTPUT
//
// The vault is created on first use with a new identity kept in VAULT_DIR/identity.txt (a secret:
// in an app it belongs in the Keychain). Run by packages-swift/test-linux.sh in CI.
import Coffer
import Foundation

let args = CommandLine.arguments
guard args.count == 4 else {
    FileHandle.standardError.write(Data("usage: StoreFile VAULT_DIR INPUT OUTPUT\n".utf8))
    exit(2)
}
let (dir, input, output) = (URL(fileURLWithPath: args[1]), URL(fileURLWithPath: args[2]), URL(fileURLWithPath: args[3]))
try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
let idFile = dir.appendingPathComponent("identity.txt")

do {
    // snippet:swift-quickstart
    // An identity is made once; its text form is a secret (an app keeps it in the Keychain).
    let me: Identity
    if FileManager.default.fileExists(atPath: idFile.path) {
        me = try Identity.parse(text: String(contentsOf: idFile, encoding: .utf8))
    } else {
        me = Identity.generate()
        try me.toFileContents().write(to: idFile, atomically: true, encoding: .utf8)
    }

    // A vault on a local directory (Vault.openDefault uses the app's Application Support).
    let vault = try await Vault.openDir(path: dir.appendingPathComponent("store").path, identity: me,
                                        vault: "files", device: "example", mode: .openOrCreate)
    let name = input.lastPathComponent
    let info = try await vault.put(key: name, data: try Data(contentsOf: input),
                                   options: PutParams(contentType: "application/octet-stream"))
    print("stored \(info.size) bytes as version \(info.version) (sealed: \(info.sealedLen) bytes)")

    let back = try await vault.get(key: name)             // verified and decrypted
    try back.write(to: output)
    print("read back into \(output.path); listing: \(try await vault.list().keys)")
    // end snippet:swift-quickstart
} catch let e as CofferError {
    // Every failure is a CofferError with a stable code: 5 NotFound, 4 Corrupt, 9 StoreUnavailable…
    FileHandle.standardError.write(Data("coffer error \(e.code): \(e.detail)\n".utf8))
    exit(1)
}
