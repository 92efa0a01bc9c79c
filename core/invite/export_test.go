package invite

// BetweenReadAndWrite has f run in a first entry's redemption between its
// read and its write, where another request may change what was read.
func BetweenReadAndWrite(s *Service, f func()) { s.betweenReadAndWrite = f }
