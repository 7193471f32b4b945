import ArgumentParser
import HATConfig
import Runs

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

    /// Whether the configuration is a firm world (`[firms]`): `hat solve` and `hat counterfactual` run its jobs.
    var isFirmWorld: Bool { ConfigurationLoader.isFirmWorld(path: config, overrides: overrides.values) }

    /// Read, override and validate a firm world (`ConfigError` on bad input), then apply `--out`.
    func loadFirmWorld() throws -> LoadedFirmWorld {
        var cfg = try ConfigurationLoader.loadFirmWorld(path: config, overrides: overrides.values)
        if let out { cfg.outputDirectory = out }
        return LoadedFirmWorld(configuration: cfg, folderFile: out == nil ? config : "--out", folderKey: out == nil ? "output.dir" : "")
    }

    /// Read, override and validate the configuration (`ConfigError` on bad input), then apply `--out`.
    func load() throws -> LoadedConfiguration {
        var cfg = try ConfigurationLoader.load(path: config, overrides: overrides.values)
        if let out { cfg.outputDirectory = out }
        return LoadedConfiguration(configuration: cfg, folderFile: out == nil ? config : "--out", folderKey: out == nil ? "output.dir" : "")
    }
}
