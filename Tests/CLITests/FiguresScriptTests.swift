import Foundation
import TestSupport
import XCTest

/// scripts/figures.py on bad input (exit 2, one line naming the option or file, nothing written), on outputs it
/// cannot write (exit 4), and under a python3 that lacks h5py, matplotlib and numpy (it hands over to one that
/// has them, or names the missing modules and how to install them).
final class FiguresScriptTests: XCTestCase {
    /// The script under test: $HAT_FIGURES_SCRIPT (to run these tests against another version of it) or ours.
    static let script = ProcessInfo.processInfo.environment["HAT_FIGURES_SCRIPT"]
        ?? packageRoot.appendingPathComponent("scripts/figures.py").path
    /// Debian's python3, which has the modules (scripts/setup.sh installs them; AnalysisCommandTests uses it too).
    static let python = "/usr/bin/python3"
    static let figureNames = ["bilateral_elasticities", "quintiles", "ev_quintiles", "ev_assets"]

    /// A two-country solve with its analysis group, its unilateral counterfactual, and a three-country solve
    /// (no [analysis], so no analysis group), made once for the class and removed after its last test.
    static let outputs: Result<(base: String, counterfactual: String, plain: String), Error> = Result {
        let dir = temporaryDirectory()
        let base = dir + "/base", counterfactual = dir + "/cf", plain = dir + "/plain"
        for (arguments, what) in [(["solve", configPath("two-country.toml"), "--out", base], "solve"),
                                  (["counterfactual", configPath("two-country.toml"), "--baseline", base,
                                    "--experiment", "unilateral", "--out", counterfactual], "counterfactual"),
                                  (["solve", configPath("three-country.toml"), "--out", plain], "plain solve")] {
            let r = try hat(arguments)
            guard r.status == 0 else { throw HatFailed(description: "hat \(what) exited \(r.status): \(r.stderr)") }
        }
        return (base, counterfactual, plain)
    }

    override class func tearDown() {
        if case .success(let made) = outputs {
            try? FileManager.default.removeItem(atPath: (made.base as NSString).deletingLastPathComponent)
        }
        super.tearDown()
    }

    struct HatFailed: Error, CustomStringConvertible { var description: String }

    func figures(_ arguments: [String], python: String = FiguresScriptTests.python, stdoutPath: String? = nil,
                 environment: [String: String] = [:], timeout: Double = 300) throws -> RunResult {
        try runProcess(python, [Self.script] + arguments, timeout: timeout, stdoutPath: stdoutPath, environment: environment)
    }

    /// One line on standard error that starts with "figures: ", names `expected`, and is no traceback.
    func assertOneLine(_ r: RunResult, naming expected: [String], _ name: String, file: StaticString = #filePath, line: UInt = #line) {
        let lines = r.stderr.split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.isEmpty }
        XCTAssertEqual(lines.count, 1, "\(name): expected one line, got \(r.stderr)", file: file, line: line)
        XCTAssertTrue(r.stderr.hasPrefix("figures: "), "\(name): \(r.stderr)", file: file, line: line)
        XCTAssertFalse(r.stderr.contains("Traceback"), "\(name): \(r.stderr)", file: file, line: line)
        for text in expected {
            XCTAssertTrue(r.stderr.contains(text), "\(name): '\(r.stderr)' does not name \(text)", file: file, line: line)
        }
    }

    func testBadInputExitsTwoWithOneLineNamingTheOptionAndWritesNothing() throws {
        let (base, counterfactual, plain) = try Self.outputs.get()
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let corrupt = dir + "/corrupt", emptyFolder = dir + "/empty", file = dir + "/a-file"
        try FileManager.default.createDirectory(atPath: corrupt, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: emptyFolder, withIntermediateDirectories: true)
        try "not HDF5".write(toFile: corrupt + "/solution.h5", atomically: true, encoding: .utf8)
        try "not HDF5".write(toFile: corrupt + "/counterfactual.h5", atomically: true, encoding: .utf8)
        try "a file".write(toFile: file, atomically: true, encoding: .utf8)
        let out = dir + "/figures"
        // (what is wrong, arguments, texts the line must contain)
        let cases: [(String, [String], [String])] = [
            ("no arguments", [], ["BASELINE"]),
            ("unknown option", [base, "--bogus", "--out", out], ["--bogus"]),
            ("option without its value", [base, "--out"], ["--out"]),
            ("missing baseline folder", [dir + "/missing", "--out", out], ["BASELINE", dir + "/missing"]),
            ("baseline without solution.h5", [emptyFolder, "--out", out], ["BASELINE", emptyFolder + "/solution.h5"]),
            ("baseline a file", [file, "--out", out], ["BASELINE", file]),
            ("corrupt solution.h5", [corrupt, "--out", out], ["BASELINE", corrupt + "/solution.h5"]),
            ("no analysis group", [plain, "--out", out], ["BASELINE", plain + "/solution.h5", "analysis"]),
            ("missing counterfactual folder", [base, "--counterfactual", dir + "/missing", "--out", out],
             ["--counterfactual", dir + "/missing"]),
            ("counterfactual without counterfactual.h5", [base, "--counterfactual", emptyFolder, "--out", out],
             ["--counterfactual", emptyFolder + "/counterfactual.h5"]),
            ("corrupt counterfactual.h5", [base, "--counterfactual", corrupt, "--out", out],
             ["--counterfactual", corrupt + "/counterfactual.h5"]),
            ("baseline given as the counterfactual", [base, "--counterfactual", base, "--out", out],
             ["--counterfactual", base]),
            ("--out a file", [base, "--counterfactual", counterfactual, "--out", file], ["--out", file]),
        ]
        for (name, arguments, expected) in cases {
            let r = try figures(arguments)
            XCTAssertEqual(r.status, 2, "\(name): \(r.stderr)")
            assertOneLine(r, naming: expected, name)
            XCTAssertEqual(r.stdout, "", name)
            XCTAssertFalse(FileManager.default.fileExists(atPath: out), "\(name): made \(out)")
            XCTAssertEqual(try String(contentsOfFile: file, encoding: .utf8), "a file", name)
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: base).sorted(), ["solution.h5", "summary.json"],
                       "nothing written beside the baseline (no default figures/ folder)")
    }

    /// Figures that cannot be written, and file names that cannot be printed, are I/O failures: exit 4.
    func testUnwritableFiguresOrOutputExitFour() throws {
        let (base, counterfactual, _) = try Self.outputs.get()
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "a file".write(toFile: dir + "/a-file", atomically: true, encoding: .utf8)
        // A regular file as the parent: no user, not even root, can make the folder.
        let underFile = try figures([base, "--out", dir + "/a-file/figures"])
        XCTAssertEqual(underFile.status, 4, underFile.stderr)
        assertOneLine(underFile, naming: ["--out", dir + "/a-file/figures"], "--out under a file")
        XCTAssertEqual(underFile.stdout, "")

        // A folder where a figure goes: the first figures are written, this one cannot be; no temporary is left.
        let out = dir + "/out"
        try FileManager.default.createDirectory(atPath: out + "/quintiles.png", withIntermediateDirectories: true)
        let blocked = try figures([base, "--counterfactual", counterfactual, "--out", out])
        XCTAssertEqual(blocked.status, 4, blocked.stderr)
        assertOneLine(blocked, naming: ["--out", out + "/quintiles.png"], "a folder where a figure goes")
        XCTAssertEqual(blocked.stdout, "")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: out).filter { $0.hasPrefix(".") }, [],
                       "temporaries left")

        // Standard output full: the figures are written but their names are lost.
        let full = dir + "/full"
        let r = try figures([base, "--out", full], stdoutPath: "/dev/full")
        XCTAssertEqual(r.status, 4, r.stderr)
        assertOneLine(r, naming: ["standard output"], "standard output full")
        XCTAssertTrue(FileManager.default.fileExists(atPath: full + "/quintiles.png"))
    }

    /// A python3 without the modules (a venv without the system's site packages) hands over to one that has
    /// them: the same output, bit for bit, as Debian's python3. With the hand-over disabled it names what is
    /// missing and how to install it; a hand-over that lands on an interpreter without them again stops.
    func testPythonWithoutTheModulesHandsOverOrNamesThem() throws {
        let (base, counterfactual, _) = try Self.outputs.get()
        let dir = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let venv = dir + "/venv"
        let made = try runProcess(Self.python, ["-m", "venv", "--without-pip", venv], timeout: 120)
        XCTAssertEqual(made.status, 0, made.stderr)
        let bare = venv + "/bin/python3"
        let probe = try runProcess(bare, ["-c", "import h5py"], timeout: 60)
        XCTAssertNotEqual(probe.status, 0, "the venv has h5py: the test proves nothing")

        let reference = dir + "/reference", handedOver = dir + "/handed-over"
        let good = try figures([base, "--counterfactual", counterfactual, "--out", reference])
        XCTAssertEqual(good.status, 0, good.stderr)
        XCTAssertEqual(good.stderr, "")
        XCTAssertEqual(good.stdout.split(separator: "\n").map(String.init), Self.figureNames.map { reference + "/\($0).png" })
        let r = try figures([base, "--counterfactual", counterfactual, "--out", handedOver], python: bare)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stderr, "")
        XCTAssertEqual(r.stdout.split(separator: "\n").map(String.init), Self.figureNames.map { handedOver + "/\($0).png" })
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: handedOver).sorted(),
                       Self.figureNames.map { "\($0).png" }.sorted())
        for name in Self.figureNames {
            let a = try Data(contentsOf: URL(fileURLWithPath: reference + "/\(name).png"))
            let b = try Data(contentsOf: URL(fileURLWithPath: handedOver + "/\(name).png"))
            XCTAssertEqual(Array(a.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A], "\(name) is no PNG")
            XCTAssertEqual(a, b, "\(name) differs after the hand-over")
        }

        let out = dir + "/disabled"
        let disabled = try figures([base, "--out", out], python: bare, environment: ["HAT_FIGURES_HANDOVER": "0"])
        XCTAssertEqual(disabled.status, 2, disabled.stderr)
        assertOneLine(disabled, naming: ["h5py", "matplotlib", "numpy", bare, "apt-get install python3-h5py python3-matplotlib",
                                         "pip install h5py matplotlib numpy"], "hand-over disabled")
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))

        // A python3 first on PATH that claims the modules when probed but is the bare one when run: the
        // interpreter handed to stops instead of handing over again.
        let liar = dir + "/liar"
        try FileManager.default.createDirectory(atPath: liar, withIntermediateDirectories: true)
        try "#!/bin/sh\nif [ \"$1\" = -c ]; then exit 0; fi\nexec \(bare) \"$@\"\n"
            .write(toFile: liar + "/python3", atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: liar + "/python3")
        let path = liar + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
        let loop = try figures([base, "--out", out], python: bare, environment: ["PATH": path], timeout: 60)
        XCTAssertEqual(loop.status, 2, loop.stderr)
        assertOneLine(loop, naming: ["h5py", "apt-get install python3-h5py python3-matplotlib"], "hand-over loop")
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
    }
}
