# Fails unless README contains the example source verbatim (so the README's code is the code
# that the test suite compiles and runs).
file(READ ${README} readme)
file(READ ${EXAMPLE} example)
string(FIND "${readme}" "${example}" at)
if(at EQUAL -1)
  message(FATAL_ERROR "README.md does not show ${EXAMPLE} verbatim; paste the file into the README's example block")
endif()
