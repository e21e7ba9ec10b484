package probe

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
)

// The folder that holds the runner's command files (GITHUB_OUTPUT, GITHUB_STEP_SUMMARY, ...):
// the test writes it into PROBE_RUNNER_DIR.txt beside this file before the run.
func runnerDir(t *testing.T) string {
	data, err := os.ReadFile("PROBE_RUNNER_DIR.txt")
	if err != nil {
		t.Fatalf("PROBE no runner folder given: %v", err)
	}
	return string(bytes.TrimSpace(data))
}

// Every process's environment: the token of the publishing process must not be readable.
func TestTokenIsNotReachable(t *testing.T) {
	t.Logf("PROBE uid=%d", os.Getuid())
	environs, _ := filepath.Glob("/proc/[0-9]*/environ")
	denied := 0
	for _, path := range environs {
		data, err := os.ReadFile(path)
		if err != nil {
			if errors.Is(err, fs.ErrPermission) {
				denied++
			}
			continue
		}
		for _, kv := range bytes.Split(data, []byte{0}) {
			for _, name := range []string{"INPUT_GITHUB_TOKEN=", "GITHUB_TOKEN=", "ACTIONS_RUNTIME_TOKEN="} {
				if bytes.HasPrefix(kv, []byte(name)) && len(kv) > len(name) {
					t.Errorf("PROBE read %s from %s", name, path)
				}
			}
		}
	}
	// the parent chain: the memory of the processes above this test that are not its own user's
	// (the publisher, which holds the token) must not open
	foreign := 0
	for pid := os.Getppid(); pid > 1; pid = parent(pid) {
		info, err := os.Stat(filepath.Join("/proc", strconv.Itoa(pid)))
		if err != nil {
			break
		}
		if st, ok := info.Sys().(*syscall.Stat_t); !ok || int(st.Uid) == os.Getuid() {
			continue
		}
		foreign++
		if f, err := os.Open(filepath.Join("/proc", strconv.Itoa(pid), "mem")); err == nil {
			f.Close()
			t.Errorf("PROBE opened the memory of process %d", pid)
		}
	}
	t.Logf("PROBE foreign ancestors=%d", foreign)
	t.Logf("PROBE environ denied=%d of %d", denied, len(environs))
}

// The command files: appending a line would set an output, an environment variable or a PATH.
func TestCommandFilesAreNotWritable(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(runnerDir(t), "*"))
	tried := 0
	for _, path := range files {
		if info, err := os.Stat(path); err != nil || !info.Mode().IsRegular() {
			continue
		}
		tried++
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
		if err == nil {
			_, _ = f.WriteString("probe=pwned\n")
			f.Close()
			t.Errorf("PROBE appended to %s", path)
		}
	}
	if tried == 0 {
		t.Errorf("PROBE found no command file in %s", runnerDir(t))
	}
	t.Logf("PROBE command files tried=%d", tried)
}

func parent(pid int) int {
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0
	}
	// pid (comm) state ppid ...
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0
	}
	fields := bytes.Fields(data[i+1:])
	if len(fields) < 2 {
		return 0
	}
	ppid := 0
	for _, c := range fields[1] {
		ppid = ppid*10 + int(c-'0')
	}
	return ppid
}

// A process the tests leave running (a server never stopped, or one that means harm) must not
// outlive the step that started it: the entrypoint reads what the step wrote once it ends.
func TestLeavesAProcessBehind(t *testing.T) {
	cmd := exec.Command("sleep", "300")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true} // out of the test's process group
	if err := cmd.Start(); err != nil {
		t.Fatalf("PROBE cannot start a process: %v", err)
	}
	t.Logf("PROBE left pid=%d", cmd.Process.Pid)
}
