package amojo

import "github.com/amojo-go/amojo/internal/filelock"

// renameOpenFile reports that a file can be replaced by a rename while open
// on this system (the file inbox's compaction depends on it).
const renameOpenFile = filelock.RenameOpenFile
