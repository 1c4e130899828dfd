"""Sum the TRX files of a test run into one line: 'N passed, N failed, N skipped'.

Exits non-zero when a test failed, when no test ran, or when a test was skipped while running as
root: every test here can run as root (CI), so a skip there means the lab or a socket test was lost.
"""
import glob
import os
import sys
import xml.etree.ElementTree as ET

NS = {"t": "http://microsoft.com/schemas/VisualStudio/TeamTest/2010"}


def main(results_dir: str) -> int:
    passed = failed = skipped = 0
    skipped_names = []
    files = glob.glob(os.path.join(results_dir, "**", "TestResults", "*.trx"), recursive=True)
    for path in files:
        root = ET.parse(path).getroot()
        for result in root.iterfind(".//t:UnitTestResult", NS):
            outcome = result.get("outcome")
            if outcome == "Passed":
                passed += 1
            elif outcome == "NotExecuted":
                skipped += 1
                skipped_names.append(result.get("testName"))
            else:
                failed += 1
    code = 1 if failed else 0
    if not files or passed + failed == 0:
        print("no test results found", flush=True)
        code = 1
    if skipped and os.geteuid() == 0:
        print("tests were skipped while running as root:", flush=True)
        for name in skipped_names:
            print(f"  {name}", flush=True)
        code = 1
    # The totals come last, on a line of their own.
    print(f"{passed} passed, {failed} failed, {skipped} skipped", flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "tests"))
