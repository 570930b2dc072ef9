package load

import "testing"

// TestAt checks that a position as the go command writes it is split into
// its path, line and column, and printed back the same way.
func TestAt(t *testing.T) {
	for _, tt := range []struct {
		pos       string
		path      string
		line, col int
		printed   string // Error(), for the message "m"
	}{
		{"/m/a.go:3:9", "/m/a.go", 3, 9, "/m/a.go:3:9: m"},
		{"/m/go.mod:3", "/m/go.mod", 3, 0, "/m/go.mod:3: m"},
		{"/m/a.go", "/m/a.go", 0, 0, "/m/a.go: m"},
		{`C:\m\a.go:12:1`, `C:\m\a.go`, 12, 1, `C:\m\a.go:12:1: m`},
		{`C:\m\a.go`, `C:\m\a.go`, 0, 0, `C:\m\a.go: m`},
		{"/m/x:y.go:2", "/m/x:y.go", 2, 0, "/m/x:y.go:2: m"},
		{"-", "", 0, 0, "m"},
		{"", "", 0, 0, "m"},
	} {
		e := At(tt.pos, "m")
		if e.Path != tt.path || e.Line != tt.line || e.Col != tt.col {
			t.Errorf("At(%q) = %q line %d col %d, want %q line %d col %d", tt.pos, e.Path, e.Line, e.Col, tt.path, tt.line, tt.col)
		}
		if got := e.Error(); got != tt.printed {
			t.Errorf("At(%q).Error() = %q, want %q", tt.pos, got, tt.printed)
		}
	}
}
