import ArgumentParser
import HATConfig

/// The repeatable `--set KEY=VALUE` of every command that reads a configuration.
struct OverrideOptions: ParsableArguments {
    @Option(name: .customLong("set"),
            help: "Override one configuration key by its dotted TOML path, e.g. --set model.gamma=1.2 (repeatable; see `hat keys`).")
    var values: [String] = []
}

/// A configuration file, `--out DIR` and the `--set` overrides.
struct ConfigurationOptions: ParsableArguments {
    @Argument(help: "TOML configuration file.")
    var config: String

    @Option(name: .long, help: "Output folder (overrides [output] dir).")
    var out: String?

    @OptionGroup var overrides: OverrideOptions

    /// A loaded configuration, and what to name in an error about its output folder: `--out` when it was
    /// given, else the configuration file and its `output.dir`.
    struct Loaded {
        var configuration: RunConfiguration
        var folderFile: String
        var folderKey: String
    }

    /// Read, override and validate the configuration (`ConfigError` on bad input), then apply `--out`.
    func load() throws -> Loaded {
        var cfg = try ConfigurationLoader.load(path: config, overrides: overrides.values)
        if let out { cfg.outputDirectory = out }
        return Loaded(configuration: cfg, folderFile: out == nil ? config : "--out", folderKey: out == nil ? "output.dir" : "")
    }
}
