package gen

import (
	"fmt"
	"strings"
	"unicode"
)

// GoName turns a C identifier into an exported Go one: the parts between underscores
// (and dots, which clang puts in the names of static locals) each start with a capital
// letter and keep the rest as written, except that a part all in capitals is one word:
// my_pid becomes MyPid, rx_bytes_total RxBytesTotal, tcpState TcpState and STATE_IDLE
// StateIdle. A name that would start with a digit gets an
// X in front; a name with no letters or digits at all becomes X.
func GoName(c string) string {
	var b strings.Builder
	for _, part := range strings.FieldsFunc(c, func(r rune) bool {
		return r >= 0x80 || !unicode.IsLetter(r) && !unicode.IsDigit(r)
	}) {
		// an all-capitals part (STATE_IDLE, TCP) is a word: StateIdle, Tcp
		if strings.ToUpper(part) == part {
			part = strings.ToLower(part)
		}
		b.WriteString(strings.ToUpper(part[:1]))
		b.WriteString(part[1:])
	}
	s := b.String()
	if s == "" || unicode.IsDigit(rune(s[0])) {
		s = "X" + s
	}
	return s
}

// scope hands out unique Go names within one namespace (the package, or the fields and
// methods of one type). The first claim of a name gets it; later claims of the same name
// get _2, _3 … in the order they are made. A mangled name never contains an underscore,
// so a suffix always marks a rename.
type scope struct {
	taken map[string]bool
}

func newScope(reserved ...string) *scope {
	s := &scope{taken: map[string]bool{}}
	for _, r := range reserved {
		s.taken[r] = true
	}
	return s
}

// claim returns want, or want_N for the smallest N ≥ 2 not yet taken.
func (s *scope) claim(want string) string {
	if !s.taken[want] {
		s.taken[want] = true
		return want
	}
	for n := 2; ; n++ {
		cand := fmt.Sprintf("%s_%d", want, n)
		if !s.taken[cand] {
			s.taken[cand] = true
			return cand
		}
	}
}
