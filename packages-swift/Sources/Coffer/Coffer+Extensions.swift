// A thin hand-written layer over the generated bindings (Coffer.swift): the error code of any
// CofferError, String keys, the app's default store directory, and off-the-caller's-thread
// versions of the few synchronous calls that take long. Tested on Linux by test-linux.sh.
import Foundation

extension CofferError {
    /// The stable numeric code (1 InvalidInput … 18 HandedOver; the table is in the README). Codes
    /// are never renumbered. The switch has no `default`, so a new variant fails to compile here.
    public var code: UInt32 {
        switch self {
        case .InvalidInput(let c, _), .InvalidKey(let c, _), .WrongIdentity(let c, _),
             .Corrupt(let c, _), .NotFound(let c, _), .NoSuchVault(let c, _),
             .AlreadyExists(let c, _), .PreconditionFailed(let c, _), .StoreUnavailable(let c, _),
             .StoreAccessDenied(let c, _), .Store(let c, _), .Unsupported(let c, _),
             .Internal(let c, _), .Untrusted(let c, _), .TrustStorage(let c, _),
             .NotWriter(let c, _), .WriteOutsideScope(let c, _), .HandedOver(let c, _):
            return c
        }
    }

    /// What went wrong, in words (never a key or object contents).
    public var detail: String {
        switch self {
        case .InvalidInput(_, let d), .InvalidKey(_, let d), .WrongIdentity(_, let d),
             .Corrupt(_, let d), .NotFound(_, let d), .NoSuchVault(_, let d),
             .AlreadyExists(_, let d), .PreconditionFailed(_, let d), .StoreUnavailable(_, let d),
             .StoreAccessDenied(_, let d), .Store(_, let d), .Unsupported(_, let d),
             .Internal(_, let d), .Untrusted(_, let d), .TrustStorage(_, let d),
             .NotWriter(_, let d), .WriteOutsideScope(_, let d), .HandedOver(_, let d):
            return d
        }
    }
}

extension Vault {
    /// The directory coffer keeps a local store in when the app names none:
    /// `Application Support/coffer` in the app's container (created when missing). On Linux:
    /// `$XDG_DATA_HOME/coffer` (`~/.local/share/coffer`).
    public static func defaultStoreDirectory() throws -> URL {
        let support = try FileManager.default.url(
            for: .applicationSupportDirectory, in: .userDomainMask, appropriateFor: nil, create: true)
        let dir = support.appendingPathComponent("coffer", isDirectory: true)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    /// The directory of the trust memory of ``defaultStoreDirectory()``: `coffer-trust` next to
    /// it (what this device saw of each vault, so a store that rolls it back is refused across
    /// restarts). Created by ``TrustMemory/dir(path:)`` when missing.
    public static func defaultTrustDirectory() throws -> URL {
        try defaultStoreDirectory().deletingLastPathComponent()
            .appendingPathComponent("coffer-trust", isDirectory: true)
    }

    /// Opens vault `vault` as writer `device` in ``defaultStoreDirectory()``, creating it when
    /// missing unless `mode` says otherwise. `options` (`nil`: trust memory in
    /// ``defaultTrustDirectory()``): reopening after the store served an older state throws
    /// `CofferError.Untrusted` (code 14).
    public static func openDefault(identity: Identity, vault: String, device: String,
                                   mode: OpenMode = .openOrCreate,
                                   options: VaultOptions? = nil) async throws -> Vault {
        let options = try options ?? VaultOptions(trust: TrustMemory.dir(path: defaultTrustDirectory().path))
        return try await openDir(path: defaultStoreDirectory().path, identity: identity, vault: vault,
                                 device: device, mode: mode, options: options)
    }

    /// Seals `data` and stores it under the UTF-8 `key`.
    @discardableResult
    public func put(key: String, data: Data, options: PutParams? = nil) async throws -> ObjectInfo {
        try await put(key: Data(key.utf8), data: data, options: options)
    }

    /// The current version of the UTF-8 `key`, verified and opened.
    public func get(key: String) async throws -> Data {
        try await get(key: Data(key.utf8))
    }

    /// Deletes the UTF-8 `key`.
    public func delete(key: String) async throws {
        try await delete(key: Data(key.utf8))
    }
}

extension ListResult {
    /// The keys of this page as Strings (keys that are not UTF-8 are decoded with replacement
    /// characters: use `contents` for exact bytes).
    public var keys: [String] { contents.map { String(decoding: $0.key, as: UTF8.self) } }
}

extension Identity {
    /// ``Identity/fromPassphrase(passphrase:account:)`` (Argon2id: 64 MiB and a fraction of a
    /// second) on a background thread, so that awaiting it from the main actor never blocks the UI.
    public static func derive(passphrase: String, account: String) async throws -> Identity {
        try await Task.detached(priority: .userInitiated) {
            try Identity.fromPassphrase(passphrase: passphrase, account: account)
        }.value
    }
}
