import Calibration
import HATConfig
import TestSupport
import XCTest

/// The start vector Θ₀ of a calibration: `calibration.shift_*` land in their blocks of the layout
/// [log A (M−1) | θm (M−1) | dist (6) | dummies (4)], and an error about a bad start names the key that made it.
final class StartVectorTests: XCTestCase {
    func testShiftsLandInTheirBlocks() {
        let m = 3, k = m - 1
        let theta = (0..<(2 * k + 10)).map { Double($0) }
        let shifts = CalibrationSettings.StartShifts(logTFP: 0.5, thetaM: -0.25, distance: 2, dummies: [1, 2, 3, 4])
        let v = CalibrationProblem.startVector(theta, shiftedBy: shifts, countries: m)
        XCTAssertEqual(Array(v[0..<k]), [0.5, 1.5])
        XCTAssertEqual(Array(v[k..<(2 * k)]), [1.75, 2.75])
        XCTAssertEqual(Array(v[(2 * k)..<(2 * k + 6)]), [6, 7, 8, 9, 10, 11])
        XCTAssertEqual(Array(v[(2 * k + 6)...]), [11, 13, 15, 17])
        XCTAssertEqual(CalibrationProblem.startVector(theta, shiftedBy: .init(), countries: m), theta)
    }

    func testTheStartKeyNamesWhatMadeTheStart() throws {
        var settings = CalibrationSettings()
        XCTAssertEqual(CalibrationProblem.startKey(settings), "world.parameters")
        settings.startShifts.dummies = [0, 0, 0.1, 0]
        XCTAssertEqual(CalibrationProblem.startKey(settings), "calibration.shift_dummies")
        settings.startShifts.distance = -1
        XCTAssertEqual(CalibrationProblem.startKey(settings), "calibration.shift_distance")
        settings.start = [Double](repeating: 0, count: 46)
        XCTAssertEqual(CalibrationProblem.startKey(settings), "calibration.start")
    }

    /// The shipped small calibration: its configured shifts give the problem's Θ₀ from the world's parameters.
    func testTheConfigurationsShiftsReachTheProblem() throws {
        let cfg = try ConfigurationLoader.load(path: configPath("ek19-calibrate-small.toml"))
        let problem = try XCTUnwrap(CalibrationProblem(configuration: cfg))
        let source = try XCTUnwrap(cfg.dataWorld)
        XCTAssertEqual(cfg.calibration.startShifts.logTFP, 0.1)
        XCTAssertEqual(problem.theta0, CalibrationProblem.startVector(source.parameters.vector, shiftedBy: cfg.calibration.startShifts,
                                                                      countries: source.world.countries))
        XCTAssertEqual(problem.theta0[0], source.parameters.vector[0] + 0.1)
    }
}
