import Foundation
import TOMLKit

/// A σε × γ sweep (`hat sweep SPEC`, CONTRACT "Sweeps", README "Sweeps"): a calibration configuration, the
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
        public var poor = -6.6
        public var median = -4.4
        public var homeShareGap = 0.0
    }

    /// The secant on ψ̃ when `calibrate_psi` is set.
    public struct PsiSettings: Sendable, Equatable {
        public var tolerance = 1e-6
        public var maxIterations = 12
        public var step = 0.05
    }

    /// The 2-unknown root of `--target`.
    public struct TargetSettings: Sendable, Equatable {
        public var tolerance = 1e-4
        public var maxIterations = 15
        public var relativeStep = 1e-3
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

    static let keys: [String: [String]] = [
        "sweep": ["base", "set", "sigma_eps", "gamma", "points", "country", "calibrate_psi", "out"],
        "targets": ["poor", "median", "home_share_gap"],
        "psi": ["tolerance", "max_iterations", "step"],
        "target": ["tolerance", "max_iterations", "relative_step"],
    ]

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
        for section in root.keys {
            guard let known = keys[section] else { throw fail(section, "unknown section (expected sweep, targets, psi, target)") }
            guard let table = root[section]?.table else { throw fail(section, "must be a table") }
            for key in table.keys where !known.contains(key) {
                throw fail("\(section).\(key)", "unknown key (expected one of \(known.joined(separator: ", ")))")
            }
        }
        guard let sweep = root["sweep"]?.table else { throw fail("sweep", "missing section") }
        let folder = URL(fileURLWithPath: path).deletingLastPathComponent()
        func absolute(_ p: String) -> String {
            p.hasPrefix("/") ? p : folder.appendingPathComponent(p).standardizedFileURL.path
        }
        func number(_ t: TOMLTable?, _ section: String, _ key: String, _ fallback: Double) throws -> Double {
            guard let v = t?[key] else { return fallback }
            guard let d = v.double ?? v.int.map(Double.init), d.isFinite else {
                throw fail("\(section).\(key)", "must be a finite number, found \(v.debugDescription)")
            }
            return d
        }
        func integer(_ t: TOMLTable?, _ section: String, _ key: String, _ fallback: Int, min: Int) throws -> Int {
            guard let v = t?[key] else { return fallback }
            guard let i = v.int, i >= min else { throw fail("\(section).\(key)", "must be an integer >= \(min), found \(v.debugDescription)") }
            return i
        }
        func positive(_ value: Double, _ key: String) throws -> Double {
            guard value > 0 else { throw fail(key, "must be > 0 (got \(value))") }
            return value
        }
        func string(_ key: String) throws -> String? {
            guard let v = sweep[key] else { return nil }
            guard let s = v.string, !s.isEmpty else { throw fail("sweep.\(key)", "must be a non-empty string, found \(v.debugDescription)") }
            return s
        }
        /// A list of numbers, or a range { from, to, count } with equally spaced values.
        func values(_ key: String) throws -> [Double]? {
            guard let v = sweep[key] else { return nil }
            if let array = v.array {
                let numbers = array.map { $0.double ?? $0.int.map(Double.init) }
                guard !numbers.isEmpty, numbers.allSatisfy({ $0?.isFinite == true }) else {
                    throw fail("sweep.\(key)", "must be a non-empty list of finite numbers or { from, to, count }")
                }
                return numbers.map { $0! }
            }
            if let range = v.table {
                for k in range.keys where !["from", "to", "count"].contains(k) {
                    throw fail("sweep.\(key).\(k)", "unknown key (expected from, to, count)")
                }
                guard range["from"] != nil, range["to"] != nil, range["count"] != nil else {
                    throw fail("sweep.\(key)", "a range needs from, to and count")
                }
                let from = try number(range, "sweep.\(key)", "from", 0), to = try number(range, "sweep.\(key)", "to", 0)
                let count = try integer(range, "sweep.\(key)", "count", 0, min: 1)
                guard count <= 10_000 else { throw fail("sweep.\(key).count", "must be <= 10000 (got \(count))") }
                guard (to - from).isFinite else { throw fail("sweep.\(key)", "from and to must be finite numbers whose difference is finite") }
                if count == 1 {
                    guard from == to else { throw fail("sweep.\(key)", "a range of count 1 needs from == to (got \(from) and \(to))") }
                    return [from]
                }
                return (0..<count).map { from + (to - from) * Double($0) / Double(count - 1) }
            }
            throw fail("sweep.\(key)", "must be a list of numbers or { from, to, count }, found \(v.type)")
        }

        guard let baseName = try string("base") else { throw fail("sweep.base", "missing required key (a hat calibrate configuration)") }
        let base = absolute(baseName)
        guard FileManager.default.isReadableFile(atPath: base) else {
            throw fail("sweep.base", "cannot read \(base)")
        }
        var overrides: [String] = []
        if let v = sweep["set"] {
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
        let sigmas = try values("sigma_eps"), gammas = try values("gamma")
        var points: [Point] = []
        if let v = sweep["points"] {
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

        let t = root["targets"]?.table, p = root["psi"]?.table, g = root["target"]?.table
        var targets = Targets()
        targets.poor = try number(t, "targets", "poor", targets.poor)
        targets.median = try number(t, "targets", "median", targets.median)
        targets.homeShareGap = try number(t, "targets", "home_share_gap", targets.homeShareGap)
        var psi = PsiSettings()
        psi.tolerance = try positive(number(p, "psi", "tolerance", psi.tolerance), "psi.tolerance")
        psi.maxIterations = try integer(p, "psi", "max_iterations", psi.maxIterations, min: 1)
        psi.step = try number(p, "psi", "step", psi.step)
        guard psi.step != 0 else { throw fail("psi.step", "must not be 0") }
        var target = TargetSettings()
        target.tolerance = try positive(number(g, "target", "tolerance", target.tolerance), "target.tolerance")
        target.maxIterations = try integer(g, "target", "max_iterations", target.maxIterations, min: 1)
        target.relativeStep = try positive(number(g, "target", "relative_step", target.relativeStep), "target.relative_step")
        guard target.relativeStep < 0.5 else { throw fail("target.relative_step", "must be < 0.5 (got \(target.relativeStep))") }

        var calibratePsi = false
        if let v = sweep["calibrate_psi"] {
            guard let b = v.bool else { throw fail("sweep.calibrate_psi", "must be true or false, found \(v.debugDescription)") }
            calibratePsi = b
        }
        let stem = URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
        let out = try string("out").map(absolute) ?? absolute("../out/sweep-\(stem)")
        return SweepSpecification(path: path, text: text, base: base, overrides: overrides, points: points,
                                  country: try string("country") ?? "USA", calibratePsi: calibratePsi,
                                  targets: targets, psi: psi, target: target, outputDirectory: out)
    }
}
