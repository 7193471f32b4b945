import Firms
import Foundation
import Gravity
import HATModel
import TOMLKit

/// A configuration with `[firms] households = "representative"`: the static Melitz–Chaney world, read from
/// `[firms]`, `[world]` (countries, labor, trade_costs, tariffs) and `[output]`. The household model's tables
/// are refused in such a file (they would be silently ignored). Every problem is a `ConfigError` naming the
/// file (or `--set`) and the dotted key.
public struct FirmWorldConfiguration: Sendable {
    public var path: String
    public var text: String
    public var world: MelitzWorld
    public var outputDirectory: String
    public var overrides: [String]
    /// With `world.data_dir`: the one-shot gravity-as-a-guide calibration that built `world` (cheap: a
    /// regression and one equilibrium), and the data folder.
    public var gravity: MelitzGravityCalibration?
    public var dataDirectory: String?
}

extension ConfigurationLoader {
    /// Whether the file (after `--set`) asks for the static firm world: it has a `[firms]` table (or
    /// `--set firms.*`) whose households are not HAT's (`households = "hat"` is the household model with a
    /// Melitz supply side, read by the household model's loader). Only the TOML is read; any other problem
    /// is left to the loader that follows.
    public static func isFirmWorld(path: String, overrides: [String] = []) -> Bool {
        let data = FileManager.default.contents(atPath: path)
        let text = data.flatMap { String(data: $0, encoding: .utf8) }
        let table = text.flatMap { try? TOMLTable(string: $0.hasPrefix("\u{FEFF}") ? String($0.dropFirst()) : $0) }
        let overridden = overrides.contains { $0.trimmingCharacters(in: .whitespaces).hasPrefix("firms.") }
        guard overridden || table?["firms"] != nil else { return false }
        var households = table?["firms"]?.table?["households"]?.string
        for o in overrides {
            let parts = o.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            if parts.count == 2, parts[0] == "firms.households" {
                households = parts[1].trimmingCharacters(in: CharacterSet(charactersIn: "\"'"))
            }
        }
        return households != "hat"
    }

    public static func loadFirmWorld(path: String, overrides: [String] = []) throws -> FirmWorldConfiguration {
        let (text, table) = try readTOML(path)
        var r = Reader(file: path, root: table)
        for o in overrides { try r.applyOverride(o) }
        let base = URL(fileURLWithPath: path).deletingLastPathComponent()
        let dataDirectory = try r.optionalPath("world", "data_dir", base: base)
        var gravity: MelitzGravityCalibration?
        let world: MelitzWorld
        if let dataDirectory {
            gravity = try r.calibratedFirmWorld(dataDirectory: dataDirectory)
            world = gravity!.world
        } else {
            world = try r.firmWorld()
        }
        let dir = try r.optionalPath("output", "dir", base: base)
            ?? base.appendingPathComponent(ConfigurationKeys.defaultOutputDirectory(configFile: path)).standardizedFileURL.path
        return FirmWorldConfiguration(path: path, text: overrides.isEmpty ? text : text + "\n# overrides: " + overrides.joined(separator: " ") + "\n",
                                      world: world, outputDirectory: dir, overrides: overrides, gravity: gravity,
                                      dataDirectory: dataDirectory)
    }
}

extension Reader {
    /// The tables a firm world reads; the household model's are refused by name.
    static let firmWorldTables: Set<String> = ["firms", "world", "output"]
    static let firmWorldKeys: Set<String> = ["world.countries", "world.labor", "world.trade_costs", "world.tariffs", "world.data_dir"]

    /// The tables and keys a firm world may use; the household model's are refused by name.
    func checkFirmWorldKeys() throws {
        try checkUnknownKeys()
        let used = Set(root.keys) .union(overrides.keys.compactMap { $0.split(separator: ".").first.map(String.init) })
        for name in used.sorted() where !Reader.firmWorldTables.contains(name) {
            throw fail(name, "not used by a firm world (firms.households = \"representative\"): remove the table")
        }
        for key in (root["world"]?.table?.keys.map { "world.\($0)" } ?? []) + overrides.keys.filter({ $0.hasPrefix("world.") }).sorted()
        where !Reader.firmWorldKeys.contains(key) {
            throw fail(key, "not used by a firm world (it reads world.countries, labor, trade_costs and tariffs, or data_dir)")
        }
    }

    /// A Pareto firm world calibrated to the Eaton–Kortum data in `dataDirectory` (docs/FIRMS.md, "Gravity as a
    /// guide"): σ, k, f_E, f_X and f_D from `[firms]`; countries, labour, trade costs and lower bounds from the data.
    func calibratedFirmWorld(dataDirectory dir: String) throws -> MelitzGravityCalibration {
        try checkFirmWorldKeys()
        for key in ["countries", "labor", "trade_costs", "tariffs"] where try value("world", key) != nil {
            throw fail("world.\(key)", "not allowed with data_dir: the firm world is calibrated to the data")
        }
        for key in ["lower_bound", "upper_bound", "lognormal_sigma", "entry_mass", "differentiated_share"] where try value("firms", key) != nil {
            throw fail("firms.\(key)", "not used with world.data_dir (the lower bounds are calibrated; the calibration is for Pareto, free entry, no outside good)")
        }
        let households = try string("firms", "households")
        guard households == "representative" else { throw fail("firms.households", "must be \"representative\" (got \"\(households)\")") }
        guard try string("firms", "distribution") == "pareto" else { throw fail("firms.distribution", "must be \"pareto\" with world.data_dir") }
        guard try string("firms", "entry") == "free" else { throw fail("firms.entry", "must be \"free\" with world.data_dir") }
        let data: EKData
        do { data = try EKData.load(directory: dir) } catch let e as DataError { throw fail("world.data_dir", e.description) }
        let m = data.count
        let sigma = try double("firms", "sigma")
        guard sigma > 1, sigma.isFinite else { throw fail("firms.sigma", "must be > 1 (got \(sigma))") }
        guard try value("firms", "shape") != nil else { throw fail("firms.shape", "missing required key") }
        let k = try double("firms", "shape")
        guard k > sigma - 1, k.isFinite else { throw fail("firms.shape", "k = \(k) must exceed sigma - 1 = \(sigma - 1)") }
        func perCountry(_ key: String) throws -> [Double] {
            guard let v = try doubles("firms", key) else { throw fail("firms.\(key)", "missing required key (\(m) entries, one per country of the data)") }
            guard v.count == m else { throw fail("firms.\(key)", "has \(v.count) entries for the data's \(m) countries") }
            if let bad = v.firstIndex(where: { !($0 > 0 && $0.isFinite) }) { throw fail("firms.\(key)", "entry \(bad + 1) must be > 0 (got \(v[bad]))") }
            return v
        }
        let entry = try perCountry("entry_cost")
        guard let raw = try value("firms", "fixed_cost"), raw.array == nil else {
            throw fail("firms.fixed_cost", "must be one number (the export fixed cost f_X) with world.data_dir")
        }
        let fx = try double("firms", "fixed_cost")
        guard fx > 0, fx.isFinite else { throw fail("firms.fixed_cost", "must be > 0 (got \(fx))") }
        let fd = try perCountry("domestic_fixed_cost")
        do {
            return try MelitzGravityCalibration.calibrate(data: data, sigma: sigma, shape: k, entryCosts: entry,
                                                          exportFixedCost: fx, domesticFixedCosts: fd)
        } catch let e as FirmsError {
            throw fail(e.key.isEmpty ? "world.data_dir" : e.key, e.problem)
        } catch {
            throw fail("world.data_dir", "\(error)")
        }
    }

    func firmWorld() throws -> MelitzWorld {
        try checkFirmWorldKeys()
        let households = try string("firms", "households")
        guard households == "representative" else { throw fail("firms.households", "must be \"representative\" (got \"\(households)\")") }
        let names = try countryNames()
        let m = names.count
        func perCountry(_ s: String, _ k: String) throws -> [Double]? {
            guard let v = try doubles(s, k) else { return nil }
            guard v.count == m else { throw fail("\(s).\(k)", "has \(v.count) entries for \(m) countries") }
            if let bad = v.firstIndex(where: { !($0 > 0 && $0.isFinite) }) {
                throw fail("\(s).\(k)", "entry \(bad + 1) must be > 0 (got \(v[bad]))")
            }
            return v
        }
        guard let labour = try perCountry("world", "labor") else { throw fail("world.labor", "missing required key") }
        let tau = try squareMatrix("trade_costs", m: m) ?? { throw fail("world.trade_costs", "missing required key") }()
        for i in 0..<m {
            for j in 0..<m where !(tau[i][j] >= 1 && tau[i][j].isFinite) {
                throw fail("world.trade_costs", "entry (\(i + 1), \(j + 1)) must be >= 1 (got \(tau[i][j])): iceberg costs of a firm world")
            }
            guard tau[i][i] == 1 else { throw fail("world.trade_costs", "diagonal entry (\(i + 1), \(i + 1)) must be 1 (got \(tau[i][i]))") }
        }
        var tariffs = Array(repeating: Array(repeating: 0.0, count: m), count: m)
        if let t = try squareMatrix("tariffs", m: m) {
            let flat = try validatedTariffs(t)
            if let negative = flat.firstIndex(where: { $0 < 0 }) {
                throw fail("world.tariffs", "entry (\(negative / m + 1), \(negative % m + 1)) must be >= 0 in a firm world (got \(flat[negative])): a subsidy has no revenue to rebate")
            }
            tariffs = t
        }

        let sigma = try double("firms", "sigma")
        guard sigma > 1, sigma.isFinite else { throw fail("firms.sigma", "must be > 1 (got \(sigma))") }
        guard let lower = try perCountry("firms", "lower_bound") else { throw fail("firms.lower_bound", "missing required key (without world.data_dir)") }
        let family = try string("firms", "distribution")
        func given(_ k: String) throws -> Bool { try value("firms", k) != nil }
        func notWith(_ k: String, _ why: String) throws {
            if try given(k) { throw fail("firms.\(k)", why) }
        }
        let distributions: [ProductivityDistribution]
        switch family {
        case "pareto", "truncated-pareto":
            guard try given("shape") else { throw fail("firms.shape", "missing required key (distribution = \"\(family)\")") }
            let k = try double("firms", "shape")
            try notWith("lognormal_sigma", "applies only with distribution = \"lognormal\"")
            if family == "pareto" {
                guard k > sigma - 1, k.isFinite else {
                    throw fail("firms.shape", "k = \(k) must exceed sigma - 1 = \(sigma - 1): with k <= sigma - 1 the Pareto moments of phi^(sigma-1) are infinite")
                }
                try notWith("upper_bound", "applies only with distribution = \"truncated-pareto\"")
                distributions = lower.map { .pareto(shape: k, lowerBound: $0) }
            } else {
                guard k > 0, k.isFinite else { throw fail("firms.shape", "must be > 0 (got \(k))") }
                guard let upper = try perCountry("firms", "upper_bound") else {
                    throw fail("firms.upper_bound", "missing required key (distribution = \"truncated-pareto\")")
                }
                for i in 0..<m where !(upper[i] > lower[i]) {
                    throw fail("firms.upper_bound", "entry \(i + 1) (\(upper[i])) must exceed lower_bound (\(lower[i]))")
                }
                distributions = (0..<m).map { .truncatedPareto(shape: k, lowerBound: lower[$0], upperBound: upper[$0]) }
            }
        case "lognormal":
            guard try given("lognormal_sigma") else { throw fail("firms.lognormal_sigma", "missing required key (distribution = \"lognormal\")") }
            let s = try double("firms", "lognormal_sigma")
            guard s > 0, s.isFinite else { throw fail("firms.lognormal_sigma", "must be > 0 (got \(s))") }
            try notWith("shape", "applies only with a Pareto distribution")
            try notWith("upper_bound", "applies only with distribution = \"truncated-pareto\"")
            distributions = lower.map { .lognormal(median: $0, sigma: s) }
        default:
            throw fail("firms.distribution", "must be one of \"pareto\", \"truncated-pareto\", \"lognormal\" (got \"\(family)\")")
        }

        let entryMode = try string("firms", "entry")
        let entry: FirmEntry
        var entryCosts = [Double](repeating: 0, count: m)
        switch entryMode {
        case "free":
            guard let f = try perCountry("firms", "entry_cost") else { throw fail("firms.entry_cost", "missing required key (entry = \"free\")") }
            try notWith("entry_mass", "applies only with entry = \"fixed\"")
            entryCosts = f
            entry = .free
        case "fixed":
            guard let mass = try perCountry("firms", "entry_mass") else { throw fail("firms.entry_mass", "missing required key (entry = \"fixed\")") }
            try notWith("entry_cost", "applies only with entry = \"free\"")
            entry = .fixed(mass: mass)
        default:
            throw fail("firms.entry", "must be \"free\" or \"fixed\" (got \"\(entryMode)\")")
        }

        var fixed: [[Double]]
        guard let raw = try value("firms", "fixed_cost") else { throw fail("firms.fixed_cost", "missing required key") }
        if raw.array != nil {
            guard let rows = try matrix("firms", "fixed_cost"), rows.count == m, rows.allSatisfy({ $0.count == m }) else {
                throw fail("firms.fixed_cost", "must be a \(m) x \(m) matrix (row = importer n, column = exporter i) or one number")
            }
            try notWith("domestic_fixed_cost", "not with a fixed_cost matrix (its diagonal is f_ii)")
            fixed = rows
        } else {
            let fx = try double("firms", "fixed_cost")
            guard fx >= 0, fx.isFinite else { throw fail("firms.fixed_cost", "must be >= 0 (got \(fx))") }
            guard let domestic = try perCountry("firms", "domestic_fixed_cost") else {
                throw fail("firms.domestic_fixed_cost", "missing required key (fixed_cost is one number)")
            }
            fixed = (0..<m).map { n in (0..<m).map { $0 == n ? domestic[n] : fx } }
        }
        for n in 0..<m {
            for i in 0..<m where !(fixed[n][i] >= 0 && fixed[n][i].isFinite) {
                throw fail("firms.fixed_cost", "entry (\(n + 1), \(i + 1)) must be >= 0 (got \(fixed[n][i]))")
            }
            guard fixed[n][n] > 0 else { throw fail("firms.fixed_cost", "diagonal entry (\(n + 1), \(n + 1)) must be > 0 (got \(fixed[n][n]))") }
        }

        var share: Double?
        if try given("differentiated_share") {
            let beta = try double("firms", "differentiated_share")
            guard beta > 0, beta < 1 else { throw fail("firms.differentiated_share", "must be in (0, 1) (got \(beta))") }
            guard case .free = entry else { throw fail("firms.differentiated_share", "an outside good needs entry = \"free\"") }
            share = beta
        }
        let world = MelitzWorld(names: names, labour: labour, sigma: sigma, distributions: distributions, entryCosts: entryCosts,
                                fixedCosts: fixed, tradeCosts: tau, tariffs: tariffs, entry: entry, differentiatedShare: share)
        do { try world.validate() } catch let e as FirmsError { throw fail(e.key, e.problem) }
        return world
    }

    /// `world.countries`: unique, non-empty names without control characters, quotes, commas or semicolons
    /// (they go into one-line logs, layout descriptions and CSV headers).
    func countryNames() throws -> [String] {
        guard let namesValue = try value("world", "countries") else { throw fail("world.countries", "missing required key") }
        guard let namesArray = namesValue.array else { throw fail("world.countries", "must be an array of strings") }
        let names = try namesArray.enumerated().map { i, v -> String in
            guard let s = v.string, !s.isEmpty else { throw fail("world.countries", "entry \(i + 1) must be a non-empty string") }
            guard !s.unicodeScalars.contains(where: { $0.properties.generalCategory == .control || ";,\"".unicodeScalars.contains($0) }) else {
                throw fail("world.countries", "entry \(i + 1) must not contain control characters, quotes, commas or semicolons")
            }
            return s
        }
        guard !names.isEmpty else { throw fail("world.countries", "must name at least one country") }
        guard Set(names).count == names.count else { throw fail("world.countries", "country names must be unique") }
        return names
    }
}

extension Reader {
    /// Whether the file (after `--set`) has a `[firms]` table.
    var hasFirmsTable: Bool { root["firms"] != nil || overrides.keys.contains { $0.hasPrefix("firms.") } }

    /// The Melitz supply side of `[firms] households = "hat"` over `world` (FIRMS-SPEC §2.6; docs/FIRMS.md):
    /// Pareto productivity whose lower bounds follow from `world.tfp`, free or fixed entry, market fixed
    /// costs all positive or all zero. The composite fixed point's stability, σ_i > 1/(σ−1) − 1/k in every
    /// country, is checked here, before any solve.
    func compositeSupply(world: World, model: ModelParameters) throws -> MelitzCompositeSupply {
        let m = world.count
        let households = try string("firms", "households")
        guard households == "hat" else {
            throw fail("firms", "a firm world with households = \"\(households)\" is solved by hat solve, hat counterfactual and hat calibrate, not by this command (households = \"hat\" puts the firms under the household model)")
        }
        for key in ["lower_bound", "upper_bound", "lognormal_sigma", "differentiated_share"] where try value("firms", key) != nil {
            throw fail("firms.\(key)", key == "lower_bound"
                ? "not used with households = \"hat\": world.tfp sets the lower bounds (the TFP a world without market fixed costs would have)"
                : "not used with households = \"hat\" (Pareto productivity, no outside good)")
        }
        let family = try string("firms", "distribution")
        guard family == "pareto" else {
            throw fail("firms.distribution", "must be \"pareto\" with households = \"hat\" (got \"\(family)\"): the composite price has a closed form only under Pareto")
        }
        let sigma = try double("firms", "sigma")
        guard sigma > 1, sigma.isFinite else { throw fail("firms.sigma", "must be > 1 (got \(sigma))") }
        guard try value("firms", "shape") != nil else { throw fail("firms.shape", "missing required key (distribution = \"pareto\")") }
        let k = try double("firms", "shape")
        guard k > sigma - 1, k.isFinite else {
            throw fail("firms.shape", "k = \(k) must exceed sigma - 1 = \(sigma - 1): with k <= sigma - 1 the Pareto moments of phi^(sigma-1) are infinite")
        }
        func perCountry(_ key: String, allowZero: Bool) throws -> [Double]? {
            guard let v = try doubles("firms", key) else { return nil }
            guard v.count == m else { throw fail("firms.\(key)", "has \(v.count) entries for \(m) countries") }
            if let bad = v.firstIndex(where: { !((allowZero ? $0 >= 0 : $0 > 0) && $0.isFinite) }) {
                throw fail("firms.\(key)", "entry \(bad + 1) must be \(allowZero ? ">= 0" : "> 0") (got \(v[bad]))")
            }
            return v
        }
        let entry: FirmEntry
        var entryCosts = [Double](repeating: 0, count: m)
        switch try string("firms", "entry") {
        case "free":
            guard let f = try perCountry("entry_cost", allowZero: false) else { throw fail("firms.entry_cost", "missing required key (entry = \"free\")") }
            if try value("firms", "entry_mass") != nil { throw fail("firms.entry_mass", "applies only with entry = \"fixed\"") }
            entryCosts = f
            entry = .free
        case "fixed":
            guard let mass = try perCountry("entry_mass", allowZero: false) else { throw fail("firms.entry_mass", "missing required key (entry = \"fixed\")") }
            if try value("firms", "entry_cost") != nil { throw fail("firms.entry_cost", "applies only with entry = \"free\"") }
            entry = .fixed(mass: mass)
        case let other:
            throw fail("firms.entry", "must be \"free\" or \"fixed\" (got \"\(other)\")")
        }
        guard let raw = try value("firms", "fixed_cost") else { throw fail("firms.fixed_cost", "missing required key") }
        var fixed: [Double]
        if raw.array != nil {
            guard let rows = try matrix("firms", "fixed_cost"), rows.count == m, rows.allSatisfy({ $0.count == m }) else {
                throw fail("firms.fixed_cost", "must be a \(m) x \(m) matrix (row = importer n, column = exporter i) or one number")
            }
            if try value("firms", "domestic_fixed_cost") != nil {
                throw fail("firms.domestic_fixed_cost", "not with a fixed_cost matrix (its diagonal is f_ii)")
            }
            fixed = rows.flatMap { $0 }
        } else {
            let fx = try double("firms", "fixed_cost")
            guard fx >= 0, fx.isFinite else { throw fail("firms.fixed_cost", "must be >= 0 (got \(fx))") }
            guard let domestic = try perCountry("domestic_fixed_cost", allowZero: true) else {
                throw fail("firms.domestic_fixed_cost", "missing required key (fixed_cost is one number)")
            }
            fixed = (0..<(m * m)).map { $0 / m == $0 % m ? domestic[$0 / m] : fx }
        }
        if let bad = fixed.firstIndex(where: { !($0 >= 0 && $0.isFinite) }) {
            throw fail("firms.fixed_cost", "entry (\(bad / m + 1), \(bad % m + 1)) must be >= 0 (got \(fixed[bad]))")
        }
        let positive = fixed.filter { $0 > 0 }.count
        guard positive == 0 || positive == fixed.count else {
            let zero = fixed.firstIndex(of: 0)!
            throw fail(raw.array != nil || zero % (m + 1) != 0 ? "firms.fixed_cost" : "firms.domestic_fixed_cost",
                       "with households = \"hat\" every f_ni must be > 0 (selection into every market) or every one 0 (no market fixed costs); entry (\(zero / m + 1), \(zero % m + 1)) is 0")
        }
        let supply = MelitzCompositeSupply(sigma: sigma, shape: k, fixedCosts: fixed, entry: entry, entryCosts: entryCosts)
        let theta = supply.spendingElasticity
        for i in 0..<m {
            let sigmaI = CountryScaling(tfp: world.tfp[i], model: model).sigma
            guard sigmaI > theta else {
                throw fail("model.sigma_eps", String(format: "the composite prices of %@ are unstable: its taste-shock scale sigma_eps A^(1-gamma) = %.6g must exceed the firms' scale economy 1/(sigma-1) - 1/k = %.6g (firms.sigma = %g, firms.shape = %g): raise model.sigma_eps or firms.sigma, or lower firms.shape", world.names[i], sigmaI, theta, sigma, k))
            }
        }
        return supply
    }
}
