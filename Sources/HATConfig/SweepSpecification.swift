import Foundation
import TOMLKit

/// A σε × γ sweep (`hat sweep SPEC`, docs/SWEEPS-AND-SLURM.md; keys in `ConfigurationKeys.sweepSections`): a calibration configuration, the
/// points, the household targets, and the settings of the ψ̃ and (σε, γ) root finders. Every problem is a
/// `ConfigError` naming the specification file and the dotted key.
public struct SweepSpecification: Sendable {
    /// One point of the sweep, in the specification's order (index 0, 1, …).
    public struct Point: Sendable, Equatable {
        public var sigmaEps: Double
        public var gamma: Double
        public init(sigmaEps: Double, gamma: Double) { self.sigmaEps = sigmaEps; self.gamma = gamma }
    }

    /// The household targets: the income-group elasticities (HAT-SPEC §6.4, 20/80 split) and the rich-minus-poor
    /// home share gap (§5.6 (iii)).
    public struct Targets: Sendable, Equatable {
        public var poor: Double
        public var median: Double
        public var homeShareGap: Double
        /// The defaults are the registry's (`ConfigurationKeys.sweepSections`).
        public init(poor: Double = -6.6, median: Double = -4.4, homeShareGap: Double = 0) {
            self.poor = poor; self.median = median; self.homeShareGap = homeShareGap
        }
    }

    /// The secant on ψ̃ when `calibrate_psi` is set.
    public struct PsiSettings: Sendable, Equatable {
        public var tolerance: Double
        public var maxIterations: Int
        public var step: Double
        public init(tolerance: Double = 1e-6, maxIterations: Int = 12, step: Double = 0.05) {
            self.tolerance = tolerance; self.maxIterations = maxIterations; self.step = step
        }
    }

    /// The 2-unknown root of `--target`.
    public struct TargetSettings: Sendable, Equatable {
        public var tolerance: Double
        public var maxIterations: Int
        public var relativeStep: Double
        public init(tolerance: Double = 1e-4, maxIterations: Int = 15, relativeStep: Double = 1e-3) {
            self.tolerance = tolerance; self.maxIterations = maxIterations; self.relativeStep = relativeStep
        }
    }

    public var path: String
    public var text: String
    /// The calibration configuration every point starts from (absolute path).
    public var base: String
    /// `--set` overrides for every point.
    public var overrides: [String]
    public var points: [Point]
    public var country: String
    public var calibratePsi: Bool
    public var targets: Targets
    public var psi: PsiSettings
    public var target: TargetSettings
    /// The sweep's folder (absolute path).
    public var outputDirectory: String

    /// Reads and validates a specification. The tables and keys, their defaults, types and plain ranges are
    /// `ConfigurationKeys.sweepSections`; the checks that involve several keys or a value's shape are here.
    public static func load(path: String) throws -> SweepSpecification {
        func fail(_ key: String, _ problem: String) -> ConfigError { ConfigError(file: path, key: key, problem: problem) }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw fail("", "cannot read sweep specification (missing or unreadable)")
        }
        guard !data.contains(0), var text = String(data: data, encoding: .utf8) else {
            throw fail("", "sweep specification is not UTF-8 text")
        }
        if text.hasPrefix("\u{FEFF}") { text.removeFirst() }
        if let line = nulEscapeLine(text) {
            throw fail("", "line \(line) escapes a NUL character (\\u0000), which no value may contain")
        }
        let root: TOMLTable
        do { root = try TOMLTable(string: text) } catch let e as TOMLParseError {
            throw fail("", "TOML syntax error at line \(e.source.begin.line): \(e.description)")
        }
        let declared = ConfigurationKeys.sweepSections
        for section in root.keys {
            guard let known = ConfigurationKeys.section(named: section, in: .sweep) else {
                throw fail(section, "unknown section (expected \(declared.map(\.name).joined(separator: ", ")))")
            }
            guard let table = root[section]?.table else { throw fail(section, "must be a table") }
            for key in table.keys where known.key(key) == nil {
                throw fail("\(section).\(key)", "unknown key (expected one of \(known.keys.map(\.name).joined(separator: ", ")))")
            }
        }
        for s in declared where s.required && root[s.name] == nil { throw fail(s.name, "missing section") }
        let folder = URL(fileURLWithPath: path).deletingLastPathComponent()
        func absolute(_ p: String) -> String {
            p.hasPrefix("/") ? p : folder.appendingPathComponent(p).standardizedFileURL.path
        }

        /// The declaration of a key the reader asks for; it asks only for declared keys.
        func declaration(_ dotted: String) -> ConfigKey {
            guard let key = ConfigurationKeys.key(dotted, in: .sweep) else { preconditionFailure("undeclared sweep key \(dotted)") }
            return key
        }
        func value(_ key: ConfigKey) -> TOMLValueConvertible? { root[key.section]?.table?[key.name] }
        func finite(_ v: TOMLValueConvertible, _ dotted: String) throws -> Double {
            guard let d = v.double ?? v.int.map(Double.init), d.isFinite else {
                throw fail(dotted, "must be a finite number, found \(v.debugDescription)")
            }
            return d
        }
        func integer(_ v: TOMLValueConvertible, _ dotted: String, min: Int) throws -> Int {
            guard let i = v.int, i >= min else { throw fail(dotted, "must be an integer >= \(min), found \(v.debugDescription)") }
            return i
        }
        /// A number key: its value, or its declared default, within its declared range.
        func number(_ dotted: String) throws -> Double {
            let key = declaration(dotted)
            guard let v = value(key) else {
                guard case .number(let d) = key.defaultValue else { preconditionFailure("\(dotted) has no number default") }
                return d
            }
            let d = try finite(v, dotted)
            guard key.range.admits(d) != false else {
                switch key.range {
                case .above(let a): throw fail(dotted, "must be > \(ConfigRange.format(a)) (got \(d))")
                case .between(let a, let b):
                    throw fail(dotted, d > a ? "must be < \(ConfigRange.format(b)) (got \(d))" : "must be > \(ConfigRange.format(a)) (got \(d))")
                case .atLeast(let a): throw fail(dotted, "must be >= \(ConfigRange.format(a)) (got \(d))")
                case .nonZero: throw fail(dotted, "must not be 0")
                default: throw fail(dotted, "must be \(key.range.text) (got \(d))")
                }
            }
            return d
        }
        /// An integer key: its value, or its declared default, at least its declared lower bound.
        func integer(_ dotted: String) throws -> Int {
            let key = declaration(dotted)
            guard let v = value(key) else {
                guard case .integer(let i) = key.defaultValue else { preconditionFailure("\(dotted) has no integer default") }
                return i
            }
            guard case .atLeast(let a) = key.range else { preconditionFailure("\(dotted) needs a lower bound") }
            return try integer(v, dotted, min: Int(a))
        }
        func boolean(_ dotted: String) throws -> Bool {
            let key = declaration(dotted)
            guard let v = value(key) else {
                guard case .boolean(let b) = key.defaultValue else { preconditionFailure("\(dotted) has no boolean default") }
                return b
            }
            guard let b = v.bool else { throw fail(dotted, "must be true or false, found \(v.debugDescription)") }
            return b
        }
        /// A string or path key: its value, its declared string default, or nil.
        func string(_ dotted: String) throws -> String? {
            let key = declaration(dotted)
            guard let v = value(key) else {
                if case .string(let s) = key.defaultValue { return s }
                return nil
            }
            guard let s = v.string, !s.isEmpty else { throw fail(dotted, "must be a non-empty string, found \(v.debugDescription)") }
            return s
        }
        /// A list of numbers, or a range { from, to, count } with equally spaced values.
        func values(_ dotted: String) throws -> [Double]? {
            guard let v = value(declaration(dotted)) else { return nil }
            if let array = v.array {
                let numbers = array.map { $0.double ?? $0.int.map(Double.init) }
                guard !numbers.isEmpty, numbers.allSatisfy({ $0?.isFinite == true }) else {
                    throw fail(dotted, "must be a non-empty list of finite numbers or { from, to, count }")
                }
                return numbers.map { $0! }
            }
            if let range = v.table {
                for k in range.keys where !["from", "to", "count"].contains(k) {
                    throw fail("\(dotted).\(k)", "unknown key (expected from, to, count)")
                }
                guard let fromValue = range["from"], let toValue = range["to"], let countValue = range["count"] else {
                    throw fail(dotted, "a range needs from, to and count")
                }
                let from = try finite(fromValue, "\(dotted).from"), to = try finite(toValue, "\(dotted).to")
                let count = try integer(countValue, "\(dotted).count", min: 1)
                guard count <= 10_000 else { throw fail("\(dotted).count", "must be <= 10000 (got \(count))") }
                guard (to - from).isFinite else { throw fail(dotted, "from and to must be finite numbers whose difference is finite") }
                if count == 1 {
                    guard from == to else { throw fail(dotted, "a range of count 1 needs from == to (got \(from) and \(to))") }
                    return [from]
                }
                return (0..<count).map { from + (to - from) * Double($0) / Double(count - 1) }
            }
            throw fail(dotted, "must be a list of numbers or { from, to, count }, found \(v.type)")
        }

        guard let baseName = try string("sweep.base") else { throw fail("sweep.base", "missing required key (a hat calibrate configuration)") }
        let base = absolute(baseName)
        guard FileManager.default.isReadableFile(atPath: base) else {
            throw fail("sweep.base", "cannot read \(base)")
        }
        var overrides: [String] = []
        if let v = value(declaration("sweep.set")) {
            guard let array = v.array, array.allSatisfy({ $0.string != nil }) else {
                throw fail("sweep.set", "must be a list of \"KEY=VALUE\" strings")
            }
            overrides = array.map { $0.string! }
            for o in overrides {
                guard let eq = o.firstIndex(of: "="), case let key = o[..<eq].trimmingCharacters(in: .whitespaces), !key.isEmpty else {
                    throw fail("sweep.set", "expected KEY=VALUE, got \"\(o)\"")
                }
                if ["model.sigma_eps", "model.gamma", "output.dir"].contains(key) {
                    throw fail("sweep.set", "\(key) is set by the sweep itself, not by sweep.set")
                }
            }
        }
        let sigmas = try values("sweep.sigma_eps"), gammas = try values("sweep.gamma")
        var points: [Point] = []
        if let v = value(declaration("sweep.points")) {
            guard sigmas == nil, gammas == nil else {
                throw fail("sweep.points", "give either points or the grid sigma_eps x gamma, not both")
            }
            guard let array = v.array, !array.isEmpty else { throw fail("sweep.points", "must be a non-empty list of [sigma_eps, gamma] pairs") }
            for (k, item) in array.enumerated() {
                let pair = item.array?.map { $0.double ?? $0.int.map(Double.init) }
                guard let pair, pair.count == 2, let s = pair[0], let g = pair[1], s.isFinite, g.isFinite else {
                    throw fail("sweep.points", "entry \(k + 1) must be [sigma_eps, gamma] with two finite numbers")
                }
                points.append(Point(sigmaEps: s, gamma: g))
            }
        } else {
            guard let sigmas else { throw fail("sweep.sigma_eps", "missing required key (or give sweep.points)") }
            guard let gammas else { throw fail("sweep.gamma", "missing required key (or give sweep.points)") }
            guard sigmas.count * gammas.count <= 10_000 else {
                throw fail("sweep.points", "at most 10000 points (sigma_eps x gamma gives \(sigmas.count * gammas.count))")
            }
            // σε outer, γ inner: index = i_σ · n_γ + i_γ.
            for s in sigmas { for g in gammas { points.append(Point(sigmaEps: s, gamma: g)) } }
        }
        guard points.count <= 10_000 else { throw fail("sweep.points", "at most 10000 points (got \(points.count))") }

        var targets = Targets()
        targets.poor = try number("targets.poor")
        targets.median = try number("targets.median")
        targets.homeShareGap = try number("targets.home_share_gap")
        var psi = PsiSettings()
        psi.tolerance = try number("psi.tolerance")
        psi.maxIterations = try integer("psi.max_iterations")
        psi.step = try number("psi.step")
        var target = TargetSettings()
        target.tolerance = try number("target.tolerance")
        target.maxIterations = try integer("target.max_iterations")
        target.relativeStep = try number("target.relative_step")

        let calibratePsi = try boolean("sweep.calibrate_psi")
        let stem = URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
        let out = try string("sweep.out").map(absolute) ?? absolute("../out/sweep-\(stem)")
        let country = try string("sweep.country")!
        return SweepSpecification(path: path, text: text, base: base, overrides: overrides, points: points,
                                  country: country, calibratePsi: calibratePsi,
                                  targets: targets, psi: psi, target: target, outputDirectory: out)
    }
}
