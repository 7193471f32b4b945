import Foundation
import TestSupport
import XCTest

/// Malformed configurations: exit code 2, one line on standard error naming the key or file, nothing written.
final class BadInputTests: XCTestCase {
    static let valid = try! String(contentsOf: packageRoot.appendingPathComponent("configs/two-country.toml"), encoding: .utf8)

    /// (what is wrong, edit of the valid config, text the error line must contain)
    static let cases: [(String, (String) -> String, String)] = [
        ("missing section", { $0.replacingOccurrences(of: "[grid]\nassets = 100\n", with: "") }, "[grid]"),
        ("missing key", { $0.replacingOccurrences(of: "beta = 0.92\n", with: "") }, "[model.beta]"),
        ("unknown key", { $0.replacingOccurrences(of: "beta = 0.92\n", with: "beta = 0.92\nbeta_typo = 1\n") }, "[model.beta_typo]"),
        ("unknown section", { $0 + "\n[solver]\nx = 1\n" }, "[solver]"),
        ("gamma <= 0", { $0.replacingOccurrences(of: "gamma = 1.5", with: "gamma = -1.5") }, "[model.gamma]"),
        ("sigma_eps <= 0", { $0.replacingOccurrences(of: "sigma_eps = 0.25", with: "sigma_eps = 0.0") }, "[model.sigma_eps]"),
        ("beta >= 1", { $0.replacingOccurrences(of: "beta = 0.92", with: "beta = 1.0") }, "[model.beta]"),
        ("beta <= 0", { $0.replacingOccurrences(of: "beta = 0.92", with: "beta = -0.5") }, "[model.beta]"),
        ("phi < 0", { $0.replacingOccurrences(of: "phi = 0.5", with: "phi = -0.1") }, "[model.phi]"),
        ("assets < 2", { $0.replacingOccurrences(of: "assets = 100", with: "assets = 1") }, "[grid.assets]"),
        ("non-positive trade cost", { $0.replacingOccurrences(of: "[[1.0, 1.745], [1.745, 1.0]]", with: "[[1.0, -1.745], [1.745, 1.0]]") }, "[world.trade_costs]"),
        ("non-square trade costs", { $0.replacingOccurrences(of: "[[1.0, 1.745], [1.745, 1.0]]", with: "[[1.0, 1.745, 1.2], [1.745, 1.0, 1.1]]") }, "[world.trade_costs]"),
        ("diagonal not 1", { $0.replacingOccurrences(of: "[[1.0, 1.745], [1.745, 1.0]]", with: "[[1.2, 1.745], [1.745, 1.0]]") }, "[world.trade_costs]"),
        ("mismatched country counts", { $0.replacingOccurrences(of: "tfp = [1.0, 1.0]", with: "tfp = [1.0, 1.0, 1.0]") }, "[world.tfp]"),
        ("string for a number", { $0.replacingOccurrences(of: "gamma = 1.5", with: "gamma = \"1.5\"") }, "[model.gamma]"),
        ("zero income states", { $0.replacingOccurrences(of: "persistent_states = 5", with: "persistent_states = 0") }, "[income.persistent_states]"),
        ("unknown closure", { $0.replacingOccurrences(of: "closure = \"world-rate\"", with: "closure = \"world_rate\"") }, "[equilibrium.closure]"),
        ("TOML syntax error", { $0.replacingOccurrences(of: "gamma = 1.5", with: "gamma = = 1.5") }, "TOML syntax error"),
        ("unwritable output folder", { $0.replacingOccurrences(of: "dir = \"../out/two-country\"", with: "dir = \"blocker/out\"") }, "[output.dir]"),
        ("non-positive tfp", { $0.replacingOccurrences(of: "tfp = [1.0, 1.0]", with: "tfp = [1.0, 0.0]") }, "[world.tfp]"),
        ("unknown analysed country", { $0.replacingOccurrences(of: "country = \"HOME\"", with: "country = \"USA\"") }, "[analysis.country]"),
        ("analysis key without a country", { $0.replacingOccurrences(of: "country = \"HOME\"", with: "") }, "[analysis.elasticities]"),
        ("negative simulated panel", { $0.replacingOccurrences(of: "cross_section = true", with: "cross_section = true\nsimulate = -5") }, "[analysis.simulate]"),
    ]

    func testMalformedConfigurationsExitWithCode2AndWriteNothing() throws {
        for (name, edit, expected) in Self.cases {
            let dir = temporaryDirectory()
            let config = dir + "/bad.toml"
            let text = edit(Self.valid).replacingOccurrences(of: "dir = \"../out/two-country\"", with: "dir = \"out\"")
            XCTAssertNotEqual(text, Self.valid, "\(name): the edit did not apply")
            try text.write(toFile: config, atomically: true, encoding: .utf8)
            // A regular file where a folder is needed: no user, not even root, can create the output folder.
            try "not a folder".write(toFile: dir + "/blocker", atomically: true, encoding: .utf8)
            let before = try FileManager.default.contentsOfDirectory(atPath: dir).sorted()
            let r = try hat(["solve", config])
            XCTAssertEqual(r.status, 2, "\(name): \(r.stderr)")
            let lines = r.stderr.split(separator: "\n")
            XCTAssertEqual(lines.count, 1, "\(name): expected one line, got \(r.stderr)")
            XCTAssertTrue(r.stderr.contains(expected), "\(name): '\(r.stderr)' does not name \(expected)")
            XCTAssertTrue(r.stderr.contains("bad.toml"), "\(name): '\(r.stderr)' does not name the file")
            XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir).sorted(), before, "\(name): wrote something")
            try? FileManager.default.removeItem(atPath: dir)
        }
    }

    func testMissingConfigurationFile() throws {
        let r = try hat(["solve", "/nonexistent/config.toml"])
        XCTAssertEqual(r.status, 2)
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1)
        XCTAssertTrue(r.stderr.contains("/nonexistent/config.toml"))
    }

    func testBadOverrideAndArguments() throws {
        let config = packageRoot.appendingPathComponent("configs/two-country.toml").path
        let r = try hat(["solve", config, "--set", "model.nonsense=1"])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.contains("model.nonsense"), r.stderr)
        let bad = try hat(["solve", config, "--set", "model.gamma=-2"])
        XCTAssertEqual(bad.status, 2)
        XCTAssertTrue(bad.stderr.contains("[model.gamma]"), bad.stderr)
        let noArgs = try hat(["solve"])
        XCTAssertEqual(noArgs.status, 2)
    }

    /// Under mpirun every rank rejects the input, and the message appears once.
    func testBadInputUnderMPIPrintsOnce() throws {
        let dir = temporaryDirectory()
        let config = dir + "/bad.toml"
        try Self.valid.replacingOccurrences(of: "gamma = 1.5", with: "gamma = 0").write(toFile: config, atomically: true, encoding: .utf8)
        let r = try mpirun(ranks: 2, ["solve", config])
        XCTAssertEqual(r.status, 2, r.stderr)
        XCTAssertEqual(r.stderr.components(separatedBy: "[model.gamma]").count - 1, 1, r.stderr)
        try? FileManager.default.removeItem(atPath: dir)
    }
}
