import HATConfig

/// A loaded configuration, and what to name in an error about its output folder: `--out` when it was
/// given, else the configuration file and its `output.dir` (a sweep names its specification and sweep.out).
public struct LoadedConfiguration {
    public var configuration: RunConfiguration
    public var folderFile: String
    public var folderKey: String

    public init(configuration: RunConfiguration, folderFile: String, folderKey: String) {
        self.configuration = configuration; self.folderFile = folderFile; self.folderKey = folderKey
    }
}
