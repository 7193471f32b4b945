import CMPI
import Parallel
import XCTest

/// How hat judges what `MPI_Init_thread` returned: a failed call, or less thread support than requested,
/// is a problem (reported in one line and exit code 1); the requested level or more is not.
final class MPIInitTests: XCTestCase {
    let funneled = Int32(MPI_THREAD_FUNNELED)

    func testRequestedLevelOrMoreIsFine() {
        for provided in [MPI_THREAD_FUNNELED, MPI_THREAD_SERIALIZED, MPI_THREAD_MULTIPLE].map({ Int32($0) }) {
            XCTAssertNil(MPIEnvironment.initProblem(code: MPI_SUCCESS, provided: provided, requested: funneled),
                         "provided \(provided)")
        }
    }

    func testLessThreadSupportThanRequestedIsAProblemNamingBothLevels() throws {
        let problem = try XCTUnwrap(MPIEnvironment.initProblem(code: MPI_SUCCESS, provided: Int32(MPI_THREAD_SINGLE),
                                                               requested: funneled))
        XCTAssertEqual(problem, "MPI_Init_thread provided thread support MPI_THREAD_SINGLE, hat needs MPI_THREAD_FUNNELED")
        XCTAssertFalse(problem.contains("\n"))
    }

    func testAFailedCallIsAProblemWhateverItProvided() throws {
        let problem = try XCTUnwrap(MPIEnvironment.initProblem(code: MPI_ERR_OTHER, provided: Int32(MPI_THREAD_MULTIPLE),
                                                               requested: funneled))
        XCTAssertEqual(problem, "MPI_Init_thread failed with code \(MPI_ERR_OTHER)")
    }

    /// This machine's MPI starts with the support hat requests (or this process would have exited).
    func testThisMachinesMPIStarts() {
        XCTAssertGreaterThanOrEqual(MPIEnvironment.world().size, 1)
    }
}
