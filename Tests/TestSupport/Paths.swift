import Foundation

/// The package root, found from this file's path.
public let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

/// A shipped configuration, `configs/NAME`.
public func configPath(_ name: String) -> String { packageRoot.appendingPathComponent("configs/\(name)").path }

/// The shared data folder: $HAT_DATA_DIR if set, else `../shared/data` beside the checkout
/// (docs/CONFIGURATION-GUIDE.md, "Data worlds").
public let sharedData: URL = {
    if let dir = ProcessInfo.processInfo.environment["HAT_DATA_DIR"] { return URL(fileURLWithPath: dir) }
    return packageRoot.deletingLastPathComponent().appendingPathComponent("shared/data")
}()

/// The Eaton–Kortum data folder, `ek2002` in the shared data.
public let ekDirectory = sharedData.appendingPathComponent("ek2002").path

/// A new, empty folder under the system's temporary folder.
public func temporaryDirectory() -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hat-test-\(UUID().uuidString)").path
    try! FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}
