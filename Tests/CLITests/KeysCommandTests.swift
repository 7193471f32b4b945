import Foundation
import TestSupport
import XCTest

/// `hat keys`: the configuration keys with type, default and help.
final class KeysCommandTests: XCTestCase {
    func testKeysListsEveryKeyWithItsHelp() throws {
        let r = try hat(["keys"], timeout: 60)
        XCTAssertEqual(r.status, 0, r.stderr)
        let lines = r.stdout.split(separator: "\n").map(String.init)
        let sigma = lines.first { $0.hasPrefix("  model.sigma_eps ") }
        XCTAssertNotNil(sigma, r.stdout)
        for part in ["number", "required", "taste-shock scale", "> 0"] {
            XCTAssertTrue(sigma?.contains(part) ?? false, "'\(sigma ?? "")' lacks \(part)")
        }
        let rate = lines.first { $0.hasPrefix("  equilibrium.rate ") } ?? ""
        XCTAssertTrue(rate.contains("1.02"), rate)
        // Grouped by section, in the order of the documentation.
        let headers = lines.filter { $0.hasPrefix("[") }.map { String($0.prefix { $0 != "]" }.dropFirst()) }
        XCTAssertEqual(headers, ["model", "grid", "income", "world", "equilibrium", "calibration", "analysis", "parallel", "output"])
        for key in ["grid.assets", "income.rho", "world.trade_costs", "world.data_dir", "equilibrium.jacobian_step", "calibration.keep_checkpoints", "output.dir"] {
            XCTAssertTrue(lines.contains { $0.hasPrefix("  \(key) ") }, "hat keys lacks \(key)")
        }
    }

    func testKeysAsMarkdown() throws {
        let r = try hat(["keys", "--markdown"], timeout: 60)
        XCTAssertEqual(r.status, 0, r.stderr)
        let lines = r.stdout.split(separator: "\n")
        XCTAssertEqual(lines.first, "| key | type | default | description |")
        XCTAssertTrue(lines.allSatisfy { $0.hasPrefix("|") && $0.hasSuffix("|") }, r.stdout)
        XCTAssertTrue(r.stdout.contains("| `model.sigma_eps` | number | required | taste-shock scale"), r.stdout)
        XCTAssertTrue(r.stdout.contains("| `equilibrium.tolerance` | number | `1e-10` |"), r.stdout)
    }

    /// The help of --set points at `hat keys`; an unknown key is still named, by --set and in a file.
    func testSetHelpAndUnknownKeys() throws {
        for command in ["solve", "bench"] {
            let help = try hat([command, "--help"], timeout: 60)
            XCTAssertEqual(help.status, 0, help.stderr)
            XCTAssertTrue(help.stdout.contains("--set"), help.stdout)
            XCTAssertTrue(help.stdout.contains("hat keys"), "\(command) --help: \(help.stdout)")
        }
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try hat(["solve", configPath("two-country.toml"), "--out", dir + "/o", "--set", "model.sigma_epsilon=0.3"])
        XCTAssertEqual(r.status, 2, r.stderr)
        XCTAssertEqual(r.stderr, "error: --set: [model.sigma_epsilon] unknown configuration key\n")
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/o"))
        let text = try String(contentsOfFile: configPath("two-country.toml"), encoding: .utf8)
            .replacingOccurrences(of: "sigma_eps = ", with: "sigma_epsilon = ")
        try text.write(toFile: dir + "/typo.toml", atomically: true, encoding: .utf8)
        let file = try hat(["solve", dir + "/typo.toml", "--out", dir + "/o"])
        XCTAssertEqual(file.status, 2, file.stderr)
        XCTAssertEqual(file.stderr, "error: \(dir)/typo.toml: [model.sigma_epsilon] unknown key\n")
    }
}
