import Checksum
import Equilibrium
import Foundation
import Gravity
import HATModel
import TOMLKit

/// A validated run configuration (CONTRACT.md "Configuration").
public struct RunConfiguration: Sendable {
    /// Path of the configuration file as given.
    public var path: String
    /// The configuration text (stored in outputs), after `--set` overrides are noted below it.
    public var text: String
    public var model: ModelParameters
    public var world: World
    public var equilibrium: EquilibriumOptions
    /// Output folder (resolved against the configuration file's folder).
    public var outputDirectory: String
    /// Set when the world is built from the Eaton–Kortum data and a parameter vector.
    public var dataWorld: DataWorldSource?
    /// The key that gave R: `equilibrium.fixed_rate`, `equilibrium.initial_rate` or the older `equilibrium.rate`.
    public var rateKey = "equilibrium.rate"
    /// Dotted keys whose values came from `--set`.
    public var overriddenKeys: Set<String> = []
    /// The `--set` arguments as given, in order.
    public var overrides: [String] = []

    /// `[calibration]` (defaults when the table is absent).
    public var calibration = CalibrationSettings()
    /// `[analysis]`: nil without `country`.
    public var analysis: AnalysisSettings?
    /// `[parallel]`: how `hat solve` lays the work out over the ranks.
    public var gridBlocks: GridBlockMode = .auto
    public var loadBalance = true
    /// Every declared key with its effective value (after `--set`; paths resolved; absent keys as their
    /// default), in declaration order: what a checkpoint compares to refuse a different configuration.
    public var effectiveValues: [(key: String, value: String)] = []

    /// Where the value of `key` came from, for error messages: "--set" or the configuration file.
    public func source(of key: String) -> String { overriddenKeys.contains(key) ? "--set" : path }
}

/// `[analysis]`: what `hat solve` computes for one country's households after the equilibrium.
public struct AnalysisSettings: Sendable, Equatable {
    /// Index of the analysed country in the world.
    public var country: Int
    public var elasticities = true
    public var mpc = true
    public var crossSection = true
    /// Draws of the simulated panel (0: none).
    public var simulate = 0
    public var seed: UInt64 = 3281978
    public init(country: Int) { self.country = country }
}

/// `[calibration]`: the gravity-as-a-guide calibration of `hat calibrate`.
public struct CalibrationSettings: Sendable {
    /// The start vector Θ₀ (46 entries) read from `start`; nil: the world's parameters.
    public var start: [Double]?
    public var startFile: String?
    /// Shifts added block by block to the start vector (e.g. the perturbed start of the acceptance test);
    /// the calibration problem applies them (CalibrationProblem(configuration:)).
    public var startShifts = StartShifts()
    public var tolerance = 1e-8
    public var maxIterations = 50
    public var checkpointEverySeconds = 300.0
    public var keepCheckpoints = 2
    public var jacobianStep = 1e-5

    public init() {}

    /// Keys that may differ between a checkpoint and the run that resumes it (run control, not the problem).
    public static let resumableKeys: Set<String> = ["calibration.max_iterations", "calibration.checkpoint_every_seconds",
                                                    "calibration.keep_checkpoints", "output.dir"]

    /// `calibration.shift_*`: constants added to the log TFPs, the importer effects θ_m, the six distance
    /// bins and the four dummies (border, language, EC, EFTA) of the start vector.
    public struct StartShifts: Sendable, Equatable {
        public var logTFP = 0.0
        public var thetaM = 0.0
        public var distance = 0.0
        public var dummies = [0.0, 0.0, 0.0, 0.0]
        public init(logTFP: Double = 0, thetaM: Double = 0, distance: Double = 0, dummies: [Double] = [0, 0, 0, 0]) {
            self.logTFP = logTFP; self.thetaM = thetaM; self.distance = distance; self.dummies = dummies
        }
        public var isZero: Bool { logTFP == 0 && thetaM == 0 && distance == 0 && dummies.allSatisfy { $0 == 0 } }
    }
}

/// A world built from data (HAT-SPEC §5): the data world and the parameter vector Θ it was built at.
public struct DataWorldSource: Sendable {
    public var world: DataWorld
    public var parametersFile: String
    public var parameters: TradeCostParameters
}

/// Reads, overrides and validates a TOML configuration. Every problem becomes a `ConfigError` that names
/// the file and the dotted key; nothing is computed or written here.
public enum ConfigurationLoader {
    public static func load(path: String, overrides: [String] = []) throws -> RunConfiguration {
        let (text, table) = try readTOML(path)
        var r = Reader(file: path, root: table)
        for o in overrides { try r.applyOverride(o) }
        let base = URL(fileURLWithPath: path).deletingLastPathComponent()
        var config = try r.configuration(base: base)
        config.path = path
        config.text = overrides.isEmpty ? text : text + "\n# overrides: " + overrides.joined(separator: " ") + "\n"
        config.overriddenKeys = Set(r.overrides.keys)
        config.overrides = overrides
        return config
    }
}

/// A configuration file's text (without a byte-order mark) and its TOML table; every problem is a
/// `ConfigError` naming the file: unreadable, a NUL byte, not UTF-8, an escaped NUL, a syntax error.
func readTOML(_ path: String) throws -> (String, TOMLTable) {
    guard let data = FileManager.default.contents(atPath: path) else {
        throw ConfigError(file: path, key: "", problem: "cannot read configuration file (missing or unreadable)")
    }
    // The TOML parser reads C strings: a NUL byte would silently end the file there.
    if let nul = data.firstIndex(of: 0) {
        let line = data[data.startIndex..<nul].reduce(1) { $0 + ($1 == 10 ? 1 : 0) }
        throw ConfigError(file: path, key: "", problem: "contains a NUL byte on line \(line) (byte \(nul - data.startIndex + 1)): not a text file")
    }
    guard var text = String(data: data, encoding: .utf8) else {
        throw ConfigError(file: path, key: "", problem: "configuration file is not UTF-8 text")
    }
    if text.hasPrefix("\u{FEFF}") { text.removeFirst() }     // a byte-order mark is not TOML
    // A NUL written as a TOML escape would end the string where the parser hands it over (C strings):
    // "off\u0000x" would silently read as "off".
    if let line = nulEscapeLine(text) {
        throw ConfigError(file: path, key: "", problem: "line \(line) escapes a NUL character (\\u0000), which no value may contain")
    }
    do { return (text, try TOMLTable(string: text)) } catch let e as TOMLParseError {
        throw ConfigError(file: path, key: "", problem: "TOML syntax error at line \(e.source.begin.line): \(e.description)")
    }
}

/// The 1-based line of the first TOML escape of NUL (\u0000 or \U00000000) in `text`, if any.
func nulEscapeLine(_ text: String) -> Int? {
    for (n, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
    where line.contains("\\u0000") || line.contains("\\U00000000") {
        return n + 1
    }
    return nil
}

/// Walks the TOML table, tracking which keys were used so unknown keys can be reported.
struct Reader {
    let file: String
    let root: TOMLTable
    var overrides: [String: String] = [:]

    init(file: String, root: TOMLTable) { self.file = file; self.root = root }

    /// An error about `key`, blamed on `--set` when the value came from there, else on the file.
    func fail(_ key: String, _ problem: String) -> ConfigError {
        ConfigError(file: overrides[key] != nil ? "--set" : file, key: key, problem: problem)
    }

    /// The declaration of `section.key` in `ConfigurationKeys`; the reader asks only for declared keys.
    func declaration(_ s: String, _ k: String) -> ConfigKey {
        guard let key = ConfigurationKeys.key("\(s).\(k)") else { preconditionFailure("undeclared configuration key \(s).\(k)") }
        return key
    }

    /// The declared default of an absent key, or the error for a missing required key.
    func absent<T>(_ s: String, _ k: String, _ declared: (ConfigDefault) -> T?) throws -> T {
        if let d = declared(declaration(s, k).defaultValue) { return d }
        throw fail("\(s).\(k)", "missing required key")
    }

    /// `--set section.key=value`: the value is parsed as a TOML value.
    mutating func applyOverride(_ text: String) throws {
        guard let eq = text.firstIndex(of: "=") else {
            throw ConfigError(file: "--set", key: text, problem: "expected KEY=VALUE")
        }
        let key = String(text[..<eq]).trimmingCharacters(in: .whitespaces)
        let value = String(text[text.index(after: eq)...]).trimmingCharacters(in: .whitespaces)
        // One value on one line: a newline would let the TOML parser read the rest as further keys.
        if value.unicodeScalars.contains(where: { $0.value < 0x20 && $0 != "\t" || $0.value == 0x7f }) {
            throw ConfigError(file: "--set", key: key, problem: "the value must be one line without control characters")
        }
        guard !value.isEmpty else { throw ConfigError(file: "--set", key: key, problem: "expected KEY=VALUE with a value") }
        if nulEscapeLine(value) != nil {
            throw ConfigError(file: "--set", key: key, problem: "the value escapes a NUL character (\\u0000), which no value may contain")
        }
        let parts = key.split(separator: ".", omittingEmptySubsequences: false).map(String.init)   // "model..gamma" is 3 parts: unknown
        guard parts.count == 2, ConfigurationKeys.section(named: parts[0])?.key(parts[1]) != nil else {
            throw ConfigError(file: "--set", key: key, problem: "unknown configuration key")
        }
        overrides[key] = value
    }

    func section(_ name: String, required: Bool) throws -> TOMLTable? {
        guard let v = root[name] else {
            if required && !overrides.keys.contains(where: { $0.hasPrefix(name + ".") }) {
                throw fail(name, "missing section")
            }
            return nil
        }
        guard let t = v.table else { throw fail(name, "must be a table, found \(v.type)") }
        return t
    }

    /// The raw value of `section.key`, with `--set` overrides applied.
    func value(_ section: String, _ key: String) throws -> TOMLValueConvertible? {
        let dotted = "\(section).\(key)"
        if let text = overrides[dotted] {
            do {
                let t = try TOMLTable(string: "v = \(text)")
                if t.keys.count == 1, let v = t["v"] { return v }
                return text
            } catch {
                // A bare word is taken as a string (`--set equilibrium.closure=autarky`).
                return text
            }
        }
        return try self.section(section, required: false)?[key]
    }

    func double(_ s: String, _ k: String) throws -> Double {
        guard let v = try value(s, k) else {
            return try absent(s, k) { if case .number(let d) = $0 { d } else { nil } }
        }
        if let d = v.double { return d }
        if let i = v.int { return Double(i) }
        throw fail("\(s).\(k)", "must be a number, found \(v.type) \(v.debugDescription)")
    }

    func int(_ s: String, _ k: String) throws -> Int {
        guard let v = try value(s, k) else {
            return try absent(s, k) { if case .integer(let i) = $0 { i } else { nil } }
        }
        if let i = v.int { return i }
        throw fail("\(s).\(k)", "must be an integer, found \(v.type) \(v.debugDescription)")
    }

    func bool(_ s: String, _ k: String) throws -> Bool {
        guard let v = try value(s, k) else {
            return try absent(s, k) { if case .boolean(let b) = $0 { b } else { nil } }
        }
        if let b = v.bool { return b }
        throw fail("\(s).\(k)", "must be true or false, found \(v.type) \(v.debugDescription)")
    }

    func string(_ s: String, _ k: String) throws -> String {
        guard let v = try value(s, k) else {
            return try absent(s, k) { if case .string(let str) = $0 { str } else { nil } }
        }
        if let str = v.string { return str }
        throw fail("\(s).\(k)", "must be a string, found \(v.type) \(v.debugDescription)")
    }

    /// A number array; nil when it is absent and not required (`ConfigDefault.isRequired`).
    func doubles(_ s: String, _ k: String) throws -> [Double]? {
        guard let v = try value(s, k) else {
            if declaration(s, k).defaultValue.isRequired { throw fail("\(s).\(k)", "missing required key") }
            return nil
        }
        guard let arr = v.array else { throw fail("\(s).\(k)", "must be an array of numbers, found \(v.type)") }
        return try arr.enumerated().map { idx, e in
            if let d = e.double { return d }
            if let i = e.int { return Double(i) }
            throw fail("\(s).\(k)", "entry \(idx + 1) must be a number, found \(e.type) \(e.debugDescription)")
        }
    }

    /// A matrix; nil when it is absent and not required (`ConfigDefault.isRequired`).
    func matrix(_ s: String, _ k: String) throws -> [[Double]]? {
        guard let v = try value(s, k) else {
            if declaration(s, k).defaultValue.isRequired { throw fail("\(s).\(k)", "missing required key") }
            return nil
        }
        guard let rows = v.array else { throw fail("\(s).\(k)", "must be an array of rows, found \(v.type)") }
        return try rows.enumerated().map { r, row in
            guard let cells = row.array else { throw fail("\(s).\(k)", "row \(r + 1) must be an array of numbers, found \(row.type)") }
            return try cells.enumerated().map { c, e in
                if let d = e.double { return d }
                if let i = e.int { return Double(i) }
                throw fail("\(s).\(k)", "row \(r + 1), column \(c + 1) must be a number, found \(e.type) \(e.debugDescription)")
            }
        }
    }

    func checkUnknownKeys() throws {
        for key in root.keys.sorted() {
            guard let declared = ConfigurationKeys.section(named: key) else { throw fail(key, "unknown section") }
            if let t = root[key]?.table {
                for k in t.keys.sorted() where declared.key(k) == nil { throw fail("\(key).\(k)", "unknown key") }
            }
        }
    }

    func configuration(base: URL) throws -> RunConfiguration {
        try checkUnknownKeys()
        if hasFirmsTable, try string("firms", "households") != "hat" {
            throw fail("firms", "a firm world with households = \"representative\" is solved by hat solve, hat counterfactual and hat calibrate; this command needs the household model (no [firms] table, or households = \"hat\")")
        }
        for s in ConfigurationKeys.sections where s.required { _ = try section(s.name, required: true) }

        // [model]
        let gamma = try double("model", "gamma")
        guard gamma > 0, gamma.isFinite else { throw fail("model.gamma", "must be > 0 (got \(gamma))") }
        let sigmaEps = try double("model", "sigma_eps")
        guard sigmaEps > 0, sigmaEps.isFinite else { throw fail("model.sigma_eps", "must be > 0 (got \(sigmaEps))") }
        let psiSlope = try double("model", "psi_slope")
        guard psiSlope.isFinite else { throw fail("model.psi_slope", "must be finite") }
        var beta = try double("model", "beta")     // the closure's fixed β, or the first guess (fixed-rate)
        guard beta > 0, beta < 1 else { throw fail("model.beta", "must lie in (0, 1) (got \(beta))") }
        let phi = try double("model", "phi")
        guard phi >= 0, phi.isFinite else { throw fail("model.phi", "must be >= 0 (got \(phi))") }
        let amax = try double("model", "amax")
        guard amax > -phi, amax.isFinite else { throw fail("model.amax", "must exceed -phi (got \(amax))") }

        // [grid]
        let assets = try int("grid", "assets")
        guard assets >= 2 else { throw fail("grid.assets", "must be >= 2 (got \(assets))") }

        // [income]
        let np = try int("income", "persistent_states")
        guard np >= 1 else { throw fail("income.persistent_states", "must be >= 1 (got \(np))") }
        let ni = try int("income", "transitory_states")
        guard ni >= 1 else { throw fail("income.transitory_states", "must be >= 1 (got \(ni))") }
        let rho = try double("income", "rho")
        guard abs(rho) < 1 else { throw fail("income.rho", "must lie in (-1, 1) (got \(rho))") }
        let sp = try double("income", "sigma_persistent")
        guard sp >= 0, sp.isFinite else { throw fail("income.sigma_persistent", "must be >= 0 (got \(sp))") }
        let si = try double("income", "sigma_transitory")
        guard si >= 0, si.isFinite else { throw fail("income.sigma_transitory", "must be >= 0 (got \(si))") }

        // [world]
        var (world, dataWorld) = try readWorld(base: base)

        // [equilibrium]
        let closureName = try string("equilibrium", "closure")
        guard let closure = Closure(rawValue: closureName) else {
            throw fail("equilibrium.closure", "must be one of \(Closure.allCases.map(\.rawValue).joined(separator: ", ")) (got \"\(closureName)\")")
        }
        // R: `fixed_rate` is the R that fixed-rate holds fixed, `initial_rate` the first guess of the others;
        // the older `rate` means whichever of the two the closure uses.
        let rateKey = closure == .fixedRate ? "fixed_rate" : "initial_rate"
        let otherKey = closure == .fixedRate ? "initial_rate" : "fixed_rate"
        if try value("equilibrium", otherKey) != nil {
            throw fail("equilibrium.\(otherKey)", closure == .fixedRate
                ? "is the first guess of R, which the fixed-rate closure does not solve for; set equilibrium.fixed_rate"
                : "is the R held fixed by the fixed-rate closure, but the closure is \(closure.rawValue); set equilibrium.initial_rate (the first guess of R)")
        }
        // Both spellings from the same source are ambiguous; from the file and `--set`, the command line wins.
        var usedRateKey = try value("equilibrium", rateKey) != nil ? rateKey : "rate"
        if try value("equilibrium", rateKey) != nil, try value("equilibrium", "rate") != nil {
            let newFromCommandLine = overrides["equilibrium.\(rateKey)"] != nil
            let oldFromCommandLine = overrides["equilibrium.rate"] != nil
            guard newFromCommandLine != oldFromCommandLine else {
                throw fail("equilibrium.rate", "give either rate or \(rateKey), not both (rate is the older name of \(rateKey) for this closure)")
            }
            usedRateKey = newFromCommandLine ? rateKey : "rate"
        }
        let rate = try double("equilibrium", usedRateKey)
        guard rate > 0, rate.isFinite else { throw fail("equilibrium.\(usedRateKey)", "must be > 0 (got \(rate))") }
        var initialWages = try doubles("equilibrium", "initial_wages")
        if let guessFile = try optionalPath("equilibrium", "initial_guess", base: base) {
            // The author's wage-guess files: M − 1 mean-one wages, then β (w_M = M − Σ w).
            guard initialWages == nil else {
                throw fail("equilibrium.initial_guess", "give either initial_wages or initial_guess, not both")
            }
            let v: [Double]
            do { v = try readVector(path: guessFile, count: world.count) } catch let e as DataError {
                throw fail("equilibrium.initial_guess", e.description)
            }
            let wages = Array(v.prefix(world.count - 1))
            let last = Double(world.count) - wages.reduce(0, +)
            for (k, w) in wages.enumerated() where !(w > 0) {
                throw fail("equilibrium.initial_guess", "\(guessFile): row \(k + 2), column guess: wage \(w) must be > 0")
            }
            guard last > 0 else {
                throw fail("equilibrium.initial_guess", "\(guessFile): the wages sum to more than \(world.count), so the last country's wage (\(world.count) minus their sum) is \(last), not > 0")
            }
            initialWages = wages + [last]
            guard let b = v.last, b > 0, b < 1 else {
                throw fail("equilibrium.initial_guess", "\(guessFile): row \(world.count + 1), column guess: beta \(v.last ?? .nan) must lie in (0, 1)")
            }
            beta = b
        } else if let w = initialWages {
            guard w.count == world.count else {
                throw fail("equilibrium.initial_wages", "has \(w.count) entries for \(world.count) countries")
            }
            guard w.allSatisfy({ $0 > 0 && $0.isFinite }) else { throw fail("equilibrium.initial_wages", "entries must be > 0") }
        }
        func positive(_ k: String) throws -> Double {
            let v = try double("equilibrium", k)
            guard v > 0, v.isFinite else { throw fail("equilibrium.\(k)", "must be > 0 (got \(v))") }
            return v
        }
        let tolerance = try positive("tolerance")
        let hhTol = try positive("household_tolerance")
        let reportTol = try positive("reporting_household_tolerance")
        let distTol = try positive("distribution_tolerance")
        let maxIterations = try int("equilibrium", "max_iterations")
        guard maxIterations >= 1 else { throw fail("equilibrium.max_iterations", "must be >= 1 (got \(maxIterations))") }
        let warm = try bool("equilibrium", "warm_start")
        let jacobianStep = try double("equilibrium", "jacobian_step")
        guard jacobianStep > 0, jacobianStep < 0.1 else {
            throw fail("equilibrium.jacobian_step", "must lie in (0, 0.1) (got \(jacobianStep))")
        }

        // [output]
        let dir = try value("output", "dir") == nil ? ConfigurationKeys.defaultOutputDirectory(configFile: file)
            : string("output", "dir")
        guard !dir.isEmpty else { throw fail("output.dir", "must not be empty") }
        let outputBase = overrides["output.dir"] != nil ? URL(fileURLWithPath: FileManager.default.currentDirectoryPath) : base
        let outputDirectory = dir.hasPrefix("/") ? dir : outputBase.appendingPathComponent(dir).standardizedFileURL.path

        let model = ModelParameters(
            gamma: gamma, sigmaEps: sigmaEps, psiSlope: psiSlope, phi: phi, amax: amax,
            assetPoints: assets,
            income: .init(persistentStates: np, transitoryStates: ni, rho: rho, sigmaPersistent: sp, sigmaTransitory: si))
        // `rate` is R for fixed-rate and the first guess of R otherwise; β is fixed unless fixed-rate solves it.
        var eq = EquilibriumOptions(
            closure: MarketClosure(closure, rate: rate, beta: beta, world: world),
            start: EquilibriumStart(wages: initialWages, rate: rate, beta: beta), tolerance: tolerance,
            maxIterations: maxIterations,
            evaluation: EvaluationOptions(householdTolerance: hhTol, distributionTolerance: distTol, warmStart: warm),
            reportingHouseholdTolerance: reportTol)
        eq.jacobianStep = jacobianStep

        // [calibration]
        var cal = CalibrationSettings()
        if let file = try optionalPath("calibration", "start", base: base) {
            guard let dataWorld else {
                throw fail("calibration.start", "needs a world built from data ([world] data_dir and parameters)")
            }
            do { cal.start = try readVector(path: file, count: TradeCostParameters.count(countries: dataWorld.world.countries)) }
            catch let e as DataError { throw fail("calibration.start", e.description) }
            if let k = cal.start!.firstIndex(where: { !$0.isFinite }) {
                throw fail("calibration.start", "\(file): row \(k + 2), column guess: not a finite number")
            }
            cal.startFile = file
        }
        // Shifts of the start vector (e.g. the perturbed start of the acceptance test): stored here, applied
        // block by block by CalibrationProblem(configuration:).
        var shifts: [(key: String, value: Double)] = []
        for k in ["shift_log_tfp", "shift_theta_m", "shift_distance"] {
            let v = try double("calibration", k)
            guard v.isFinite else { throw fail("calibration.\(k)", "must be finite") }
            shifts.append(("calibration.\(k)", v))
        }
        let dummyShift = try doubles("calibration", "shift_dummies") ?? [0, 0, 0, 0]
        guard dummyShift.count == 4, dummyShift.allSatisfy({ $0.isFinite }) else {
            throw fail("calibration.shift_dummies", "must be 4 finite numbers (border, language, EC, EFTA), got \(dummyShift.count)")
        }
        cal.startShifts = CalibrationSettings.StartShifts(logTFP: shifts[0].value, thetaM: shifts[1].value,
                                                          distance: shifts[2].value, dummies: dummyShift)
        if !cal.startShifts.isZero, dataWorld == nil {
            throw fail(shifts.first { $0.value != 0 }?.key ?? "calibration.shift_dummies",
                       "needs a world built from data ([world] data_dir and parameters)")
        }
        cal.tolerance = try double("calibration", "tolerance")
        guard cal.tolerance > 0, cal.tolerance.isFinite else { throw fail("calibration.tolerance", "must be > 0 (got \(cal.tolerance))") }
        cal.maxIterations = try int("calibration", "max_iterations")
        guard cal.maxIterations >= 1 else { throw fail("calibration.max_iterations", "must be >= 1 (got \(cal.maxIterations))") }
        cal.checkpointEverySeconds = try double("calibration", "checkpoint_every_seconds")
        guard cal.checkpointEverySeconds >= 0, cal.checkpointEverySeconds.isFinite else {
            throw fail("calibration.checkpoint_every_seconds", "must be >= 0 (got \(cal.checkpointEverySeconds))")
        }
        cal.keepCheckpoints = try int("calibration", "keep_checkpoints")
        guard cal.keepCheckpoints >= 1 else { throw fail("calibration.keep_checkpoints", "must be >= 1 (got \(cal.keepCheckpoints))") }
        cal.jacobianStep = try double("calibration", "jacobian_step")
        guard cal.jacobianStep > 0, cal.jacobianStep < 0.1 else {
            throw fail("calibration.jacobian_step", "must lie in (0, 0.1) (got \(cal.jacobianStep))")
        }

        // [analysis]
        var analysis: AnalysisSettings?
        if try value("analysis", "country") != nil {
            let name = try string("analysis", "country")
            guard let i = world.countryIndex(name) else {
                throw fail("analysis.country", "\"\(name)\" is not a country of this world (\(world.names.joined(separator: ", ")))")
            }
            var a = AnalysisSettings(country: i)
            a.elasticities = try bool("analysis", "elasticities")
            a.mpc = try bool("analysis", "mpc")
            a.crossSection = try bool("analysis", "cross_section")
            a.simulate = try int("analysis", "simulate")
            guard a.simulate == 0 || (a.simulate >= 1000 && a.simulate <= 100_000_000) else {
                throw fail("analysis.simulate", "must be 0 (no panel) or lie in [1000, 100000000] (got \(a.simulate))")
            }
            let seed = try int("analysis", "seed")
            guard seed >= 0 else { throw fail("analysis.seed", "must be >= 0 (got \(seed))") }
            a.seed = UInt64(seed)
            analysis = a
        } else {
            for k in ["elasticities", "mpc", "cross_section", "simulate", "seed"] where try value("analysis", k) != nil {
                throw fail("analysis.\(k)", "needs analysis.country (the analysed country)")
            }
        }

        // [parallel]
        let blocksText = try string("parallel", "grid_blocks")
        guard let gridBlocks = GridBlockMode(rawValue: blocksText) else {
            throw fail("parallel.grid_blocks", "must be \"auto\", \"on\" or \"off\" (got \"\(blocksText)\")")
        }
        let loadBalance = try bool("parallel", "load_balance")

        // [firms] households = "hat": the Melitz supply side (its stability needs the model's sigma_eps).
        if hasFirmsTable {
            world.supply = try compositeSupply(world: world, model: model)
            // Wages in proportion to productivity unless given: at equal wages a low-TFP source can be so dear
            // that the spending on its composite collapses under the scale economy before the solver moves.
            if world.supply.spendingElasticity > 0 && eq.start.wages == nil { eq.start.wages = world.tfp }
        }

        var config = RunConfiguration(path: file, text: "", model: model, world: world, equilibrium: eq,
                                      outputDirectory: outputDirectory, dataWorld: dataWorld,
                                      rateKey: "equilibrium.\(usedRateKey)")
        config.calibration = cal
        config.analysis = analysis
        config.gridBlocks = gridBlocks
        config.loadBalance = loadBalance
        config.effectiveValues = try effectiveValues(base: base)
        return config
    }

    /// Every declared key's effective value as text: numbers in Swift's shortest round-trip form (so `1e-10`
    /// and `1.0e-10` agree), paths resolved, absent keys as their declared default.
    func effectiveValues(base: URL) throws -> [(key: String, value: String)] {
        func render(_ v: TOMLValueConvertible) -> String {
            if let d = v.double { return "\(d)" }
            if let i = v.int { return "\(i)" }
            if let b = v.bool { return "\(b)" }
            if let str = v.string { return "\"\(str)\"" }
            if let a = v.array { return "[" + a.map { render($0) }.joined(separator: ", ") + "]" }
            return v.debugDescription
        }
        // [parallel] is run control: a layout never changes the numbers, so it is not part of the problem.
        return try ConfigurationKeys.all.filter { $0.section != "parallel" }.map { k in
            guard let v = try value(k.section, k.name) else { return (k.dotted, k.defaultValue.text) }
            if k.type == .path {
                // Input files by what they hold (moving the data keeps a checkpoint valid, editing it does not);
                // the output folder by where it is.
                let path = try optionalPath(k.section, k.name, base: base) ?? ""
                return (k.dotted, k.dotted == "output.dir" ? path : contentFingerprint(path))
            }
            if k.type == .number, let i = v.int { return (k.dotted, "\(Double(i))") }
            return (k.dotted, render(v))
        }
    }

    /// A path-valued key, resolved against the configuration file's folder, or against the working folder
    /// when it was given with `--set` (typed on the command line, where the shell resolves paths too).
    func optionalPath(_ s: String, _ k: String, base: URL) throws -> String? {
        guard try value(s, k) != nil else { return nil }
        let raw = try string(s, k)
        guard !raw.isEmpty else { throw fail("\(s).\(k)", "must not be empty") }
        if raw.hasPrefix("/") { return raw }
        let origin = overrides["\(s).\(k)"] != nil ? URL(fileURLWithPath: FileManager.default.currentDirectoryPath) : base
        return origin.appendingPathComponent(raw).standardizedFileURL.path
    }

    /// Either an explicit world or one built from `data_dir` + `parameters` (HAT-SPEC §5.4–5.5).
    func readWorld(base: URL) throws -> (World, DataWorldSource?) {
        guard let dir = try optionalPath("world", "data_dir", base: base) else {
            if try value("world", "parameters") != nil {
                throw fail("world.parameters", "needs [world] data_dir (the Eaton-Kortum data folder)")
            }
            return (try readExplicitWorld(), nil)
        }
        for key in ["countries", "tfp", "labor", "trade_costs"] where try value("world", key) != nil {
            throw fail("world.\(key)", "not allowed with data_dir: the world is built from the data and the parameter vector")
        }
        guard let parametersFile = try optionalPath("world", "parameters", base: base) else {
            throw fail("world.parameters", "missing required key (a parameter vector file, used with data_dir)")
        }
        let data: EKData
        do { data = try EKData.load(directory: dir) } catch let e as DataError {
            throw fail("world.data_dir", e.description)
        }
        let v: [Double]
        do { v = try readVector(path: parametersFile, count: TradeCostParameters.count(countries: data.count)) } catch let e as DataError {
            throw fail("world.parameters", e.description)
        }
        let parameters = TradeCostParameters(vector: v, countries: data.count)
        let source: DataWorld
        do { source = try DataWorld(directory: dir, data: data) } catch {
            throw fail("world.data_dir", "\(error)")
        }
        var world: World
        do { world = try source.world(for: parameters) } catch let e as DataWorldError {
            switch e {
            case let .tfp(k, logTFP, tfp):
                throw fail("world.parameters", "\(parametersFile): row \(k + 2), column guess: log TFP \(logTFP) gives TFP \(tfp), not a finite positive number")
            case let .tradeCost(importer, exporter, value):
                throw fail("world.parameters", "\(parametersFile): the trade cost of importer \(importer) from exporter \(exporter) is \(value), not finite: a cost parameter is too large")
            }
        }
        if let t = try squareMatrix("tariffs", m: data.count) {
            world.tariffs = try validatedTariffs(t)
        }
        return (world, DataWorldSource(world: source, parametersFile: parametersFile, parameters: parameters))
    }

    func validatedTariffs(_ t: [[Double]]) throws -> [Double] {
        let m = t.count
        for i in 0..<m {
            for j in 0..<m where !(t[i][j] > -1 && t[i][j].isFinite) {
                throw fail("world.tariffs", "entry (\(i + 1), \(j + 1)) must exceed -1 (got \(t[i][j]))")
            }
            guard t[i][i] == 0 else { throw fail("world.tariffs", "diagonal entry (\(i + 1), \(i + 1)) must be 0") }
        }
        return t.flatMap { $0 }
    }

    func readExplicitWorld() throws -> World {
        let names = try countryNames()
        let m = names.count
        let tfp = try doubles("world", "tfp")!
        guard tfp.count == m else { throw fail("world.tfp", "has \(tfp.count) entries for \(m) countries") }
        guard tfp.allSatisfy({ $0 > 0 && $0.isFinite }) else { throw fail("world.tfp", "entries must be > 0") }
        let labor = try doubles("world", "labor")!
        guard labor.count == m else { throw fail("world.labor", "has \(labor.count) entries for \(m) countries") }
        guard labor.allSatisfy({ $0 > 0 && $0.isFinite }) else { throw fail("world.labor", "entries must be > 0") }
        let d = try squareMatrix("trade_costs", m: m)!
        for i in 0..<m {
            for j in 0..<m {
                guard d[i][j] > 0, d[i][j].isFinite else {
                    throw fail("world.trade_costs", "entry (\(i + 1), \(j + 1)) must be > 0 (got \(d[i][j]))")
                }
            }
            guard d[i][i] == 1 else { throw fail("world.trade_costs", "diagonal entry (\(i + 1), \(i + 1)) must be 1 (got \(d[i][i]))") }
        }
        let t = try squareMatrix("tariffs", m: m).map { try validatedTariffs($0) }
        return World(names: names, tfp: tfp, labor: labor, tradeCosts: d.flatMap { $0 }, tariffs: t)
    }

    func squareMatrix(_ key: String, m: Int) throws -> [[Double]]? {
        guard let rows = try matrix("world", key) else { return nil }
        guard rows.count == m else { throw fail("world.\(key)", "has \(rows.count) rows for \(m) countries") }
        for (r, row) in rows.enumerated() where row.count != m {
            throw fail("world.\(key)", "row \(r + 1) has \(row.count) entries, expected \(m) (matrix must be square)")
        }
        return rows
    }
}
