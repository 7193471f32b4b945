import Foundation
import HATConfig
import TestSupport
import TOMLKit
import XCTest

/// The sweep specification's reader against the key registry (`ConfigurationKeys.sweepSections`): it knows
/// exactly the registered keys, takes their defaults and checks their types and ranges from there.
final class SweepSpecificationTests: XCTestCase {
    var dir = ""

    override func setUp() { dir = temporaryDirectory() }
    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    /// A specification file holding `text`, after a `[sweep]` base line unless the text has its own.
    func spec(_ text: String, name: String = "spec.toml", base: Bool = true) throws -> String {
        let path = dir + "/" + name
        let header = base ? "[sweep]\nbase = \"\(configPath("ek19-calibrate-small.toml"))\"\n" : ""
        try (header + text + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func error(_ text: String, base: Bool = true) -> ConfigError? {
        do {
            _ = try SweepSpecification.load(path: try spec(text, name: "bad.toml", base: base))
            return nil
        } catch {
            return error as? ConfigError
        }
    }

    /// Two specifications that together give every registered key a value other than its default (points
    /// and the grid exclude each other): every key is accepted, and every value arrives where it belongs.
    func testEveryRegisteredKeyIsReadAndUsed() throws {
        let tables = """
        [targets]
        poor = -7.5
        median = -5.25
        home_share_gap = 0.125

        [psi]
        tolerance = 2e-5
        max_iterations = 7
        step = -0.03

        [target]
        tolerance = 3e-3
        max_iterations = 4
        relative_step = 0.0625
        """
        let grid = try spec("""
        set = ["calibration.max_iterations=30", "grid.assets=20"]
        sigma_eps = { from = 0.25, to = 0.75, count = 3 }
        gamma = [1.25, 1.5]
        country = "FRA"
        calibrate_psi = true
        out = "sweeps/here"

        \(tables)
        """, name: "grid.toml")
        let list = try spec("""
        points = [[0.31, 1.2], [0.33, 1.3], [0.35, 1.4]]
        """, name: "list.toml")

        // The two files use every registered key, and no other.
        var used = Set<String>()
        for path in [grid, list] {
            let root = try TOMLTable(string: try String(contentsOfFile: path, encoding: .utf8))
            for section in root.keys { for key in root[section]!.table!.keys { used.insert("\(section).\(key)") } }
        }
        XCTAssertEqual(used, Set(ConfigurationKeys.sweepKeys.map(\.dotted)))

        let g = try SweepSpecification.load(path: grid)
        XCTAssertEqual(g.base, configPath("ek19-calibrate-small.toml"))
        XCTAssertEqual(g.overrides, ["calibration.max_iterations=30", "grid.assets=20"])
        XCTAssertEqual(g.points, [0.25, 0.5, 0.75].flatMap { s in [1.25, 1.5].map { SweepSpecification.Point(sigmaEps: s, gamma: $0) } })
        XCTAssertEqual(g.country, "FRA")
        XCTAssertTrue(g.calibratePsi)
        XCTAssertEqual(g.outputDirectory, dir + "/sweeps/here")
        XCTAssertEqual(g.targets, SweepSpecification.Targets(poor: -7.5, median: -5.25, homeShareGap: 0.125))
        XCTAssertEqual(g.psi, SweepSpecification.PsiSettings(tolerance: 2e-5, maxIterations: 7, step: -0.03))
        XCTAssertEqual(g.target, SweepSpecification.TargetSettings(tolerance: 3e-3, maxIterations: 4, relativeStep: 0.0625))
        let l = try SweepSpecification.load(path: list)
        XCTAssertEqual(l.points, [SweepSpecification.Point(sigmaEps: 0.31, gamma: 1.2), SweepSpecification.Point(sigmaEps: 0.33, gamma: 1.3),
                                  SweepSpecification.Point(sigmaEps: 0.35, gamma: 1.4)])
    }

    /// A key left out takes its registered default, and the registered defaults are the documented ones.
    func testLeftOutKeysTakeTheRegisteredDefaults() throws {
        let s = try SweepSpecification.load(path: try spec("points = [[0.3, 1.4]]", name: "minimal.toml"))
        func number(_ key: String) -> Double {
            guard case .number(let d) = ConfigurationKeys.key(key, in: .sweep)?.defaultValue else { XCTFail(key); return .nan }
            return d
        }
        func integer(_ key: String) -> Int {
            guard case .integer(let i) = ConfigurationKeys.key(key, in: .sweep)?.defaultValue else { XCTFail(key); return -1 }
            return i
        }
        XCTAssertEqual(s.targets, SweepSpecification.Targets(poor: number("targets.poor"), median: number("targets.median"),
                                                              homeShareGap: number("targets.home_share_gap")))
        XCTAssertEqual(s.psi, SweepSpecification.PsiSettings(tolerance: number("psi.tolerance"), maxIterations: integer("psi.max_iterations"),
                                                              step: number("psi.step")))
        XCTAssertEqual(s.target, SweepSpecification.TargetSettings(tolerance: number("target.tolerance"),
                                                                    maxIterations: integer("target.max_iterations"),
                                                                    relativeStep: number("target.relative_step")))
        XCTAssertEqual(ConfigurationKeys.key("sweep.country", in: .sweep)?.defaultValue, .string(s.country))
        XCTAssertEqual(ConfigurationKeys.key("sweep.calibrate_psi", in: .sweep)?.defaultValue, .boolean(s.calibratePsi))
        XCTAssertEqual(s.overrides, [])
        XCTAssertEqual(s.outputDirectory, URL(fileURLWithPath: dir + "/../out/sweep-minimal").standardizedFileURL.path)
        // The values docs/SWEEPS-AND-SLURM.md states.
        XCTAssertEqual([s.targets.poor, s.targets.median, s.targets.homeShareGap], [-6.6, -4.4, 0])
        XCTAssertEqual([s.psi.tolerance, s.psi.step, s.target.tolerance, s.target.relativeStep], [1e-6, 0.05, 1e-4, 1e-3])
        XCTAssertEqual([s.psi.maxIterations, s.target.maxIterations], [12, 15])
        XCTAssertEqual(s.country, "USA")
        XCTAssertFalse(s.calibratePsi)
    }

    /// The reader reads every registered key: a value of the wrong type is refused naming the key, and so is
    /// a number outside the registered range, while the values inside it are accepted.
    func testEveryRegisteredKeyIsChecked() throws {
        for key in ConfigurationKeys.sweepKeys {
            // points and the grid exclude each other; base is given by the header unless it is the key.
            let context = key.name == "points" ? "" : key.name == "sigma_eps" ? "gamma = [1.4]" : key.name == "gamma" ? "sigma_eps = [0.3]" : "points = [[0.3, 1.4]]"
            func file(_ value: String) -> String {
                if key.section == "sweep" {
                    return key.name == "base" ? "[sweep]\nbase = \(value)\n\(context)" : "\(key.name) = \(value)\n\(context)"
                }
                return "\(context)\n[\(key.section)]\n\(key.name) = \(value)"
            }
            let wrongType: String
            switch key.type {
            case .number, .numberArrayOrRange: wrongType = "\"x\""
            case .integer: wrongType = "1.5"
            case .boolean, .string, .path, .stringArray, .numberPairs, .numberArray, .matrix: wrongType = "1"
            case .numberOrMatrix: wrongType = "\"x\""
            }
            let e = error(file(wrongType), base: key.name != "base")
            XCTAssertEqual(e?.key, key.dotted, "\(key.dotted) = \(wrongType): \(String(describing: e))")
            XCTAssertEqual(e?.file, dir + "/bad.toml")

            let outside: [Double], inside: [Double]
            switch key.range {
            case .above(let a): (outside, inside) = ([a, a - 1], [a + 0.25])
            case .atLeast(let a): (outside, inside) = ([a - 1], [a, a + 1])
            case .between(let a, let b): (outside, inside) = ([a, b, b + 1], [(a + b) / 2])
            case .nonZero: (outside, inside) = ([0], [-0.5, 0.5])
            case .finite: (outside, inside) = ([.nan, .infinity], [-2.5, 0, 2.5])
            default: continue
            }
            func text(_ x: Double) -> String {
                key.type == .integer ? "\(Int(x))" : x.isNaN ? "nan" : x.isInfinite ? "inf" : "\(x)"
            }
            for x in outside {
                let e = error(file(text(x)))
                XCTAssertEqual(e?.key, key.dotted, "\(key.dotted) = \(x): \(String(describing: e))")
            }
            for x in inside {
                XCTAssertNil(error(file(text(x))), "\(key.dotted) = \(x) lies in \(key.rangeText)")
            }
        }
    }

    /// Tables and keys outside the registry are refused, and the message lists the registered ones.
    func testUnregisteredTablesAndKeysAreRefused() {
        let tables = ConfigurationKeys.sweepSections.map(\.name).joined(separator: ", ")
        XCTAssertEqual(tables, "sweep, targets, psi, target")
        XCTAssertEqual(error("points = [[0.3, 1.4]]\n[model]\ngamma = 1.4"),
                       ConfigError(file: dir + "/bad.toml", key: "model", problem: "unknown section (expected \(tables))"))
        for section in ConfigurationKeys.sweepSections {
            let names = section.keys.map(\.name).joined(separator: ", ")
            let text = section.name == "sweep" ? "points = [[0.3, 1.4]]\nsigma = 1" : "points = [[0.3, 1.4]]\n[\(section.name)]\nsigma = 1"
            XCTAssertEqual(error(text), ConfigError(file: dir + "/bad.toml", key: "\(section.name).sigma",
                                                    problem: "unknown key (expected one of \(names))"))
        }
        XCTAssertEqual(error("[targets]\npoor = -6", base: false),
                       ConfigError(file: dir + "/bad.toml", key: "sweep", problem: "missing section"))
    }

    /// The messages of the checks that moved to the registry are the ones the reader gave before.
    func testRangeMessages() {
        let file = dir + "/bad.toml"
        let cases: [(String, String, String)] = [
            ("[psi]\ntolerance = 0", "psi.tolerance", "must be > 0 (got 0.0)"),
            ("[psi]\nstep = 0", "psi.step", "must not be 0"),
            ("[psi]\nmax_iterations = 0", "psi.max_iterations", "must be an integer >= 1, found 0"),
            ("[target]\nrelative_step = -1", "target.relative_step", "must be > 0 (got -1.0)"),
            ("[target]\nrelative_step = 0.5", "target.relative_step", "must be < 0.5 (got 0.5)"),
            ("[target]\ntolerance = -1e-3", "target.tolerance", "must be > 0 (got -0.001)"),
            ("[targets]\npoor = \"low\"", "targets.poor", "must be a finite number, found \"low\""),
            ("[targets]\nmedian = inf", "targets.median", "must be a finite number, found inf"),
        ]
        for (table, key, problem) in cases {
            XCTAssertEqual(error("points = [[0.3, 1.4]]\n" + table), ConfigError(file: file, key: key, problem: problem), table)
        }
        XCTAssertEqual(error("points = [[0.3, 1.4]]\ncalibrate_psi = \"yes\""),
                       ConfigError(file: file, key: "sweep.calibrate_psi", problem: "must be true or false, found \"yes\""))
        XCTAssertEqual(error("points = [[0.3, 1.4]]\ncountry = \"\""),
                       ConfigError(file: file, key: "sweep.country", problem: "must be a non-empty string, found \"\""))
        XCTAssertEqual(error("sigma_eps = { from = 0.3, to = 0.4, count = 0 }\ngamma = [1.4]"),
                       ConfigError(file: file, key: "sweep.sigma_eps.count", problem: "must be an integer >= 1, found 0"))
        XCTAssertEqual(error("sigma_eps = [0.3]"),
                       ConfigError(file: file, key: "sweep.gamma", problem: "missing required key (or give sweep.points)"))
        XCTAssertEqual(error("[sweep]\npoints = [[0.3, 1.4]]", base: false),
                       ConfigError(file: file, key: "sweep.base", problem: "missing required key (a hat calibrate configuration)"))
    }

    /// The shipped specifications parse, with the points their comments describe.
    func testShippedSpecificationsParse() throws {
        let small = try SweepSpecification.load(path: packageRoot.appendingPathComponent("jobs/sigma-gamma-small.toml").path)
        XCTAssertEqual(small.points.map { [$0.sigmaEps, $0.gamma] }, [[0.30, 1.35], [0.30, 1.45], [0.34, 1.35], [0.34, 1.45]])
        let full = try SweepSpecification.load(path: packageRoot.appendingPathComponent("jobs/sigma-gamma.toml").path)
        XCTAssertEqual(full.points.count, 9)
        XCTAssertEqual(full.points[4], SweepSpecification.Point(sigmaEps: 0.3333333333333333, gamma: 1.45))
        XCTAssertEqual(full.targets, SweepSpecification.Targets())
        XCTAssertEqual(full.psi, SweepSpecification.PsiSettings())
        XCTAssertEqual(full.target, SweepSpecification.TargetSettings())
    }
}
