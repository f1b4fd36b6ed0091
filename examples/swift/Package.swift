// swift-tools-version:5.9
// A first app on coffer: stores a file in a vault and reads it back. It depends on the coffer
// package the way an app does (here by path; an app names the package's URL and version).
import PackageDescription

let package = Package(
    name: "StoreFile",
    platforms: [.macOS(.v12), .iOS(.v15)],
    dependencies: [
        .package(path: "../../packages-swift"),
    ],
    targets: [
        .executableTarget(
            name: "StoreFile",
            dependencies: [.product(name: "Coffer", package: "packages-swift")]
        ),
    ]
)
