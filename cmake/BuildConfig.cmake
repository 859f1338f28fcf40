# Writes mykernels/_build_config.py, the build facts that mykernels.build_info() reports and the
# import-time torch version check reads (cmake/build_config.py.in).
set(_py_cuda_compiler None)
set(_py_sass "")
set(_py_ptx "")
if(MYKERNELS_WITH_CUDA)
  set(_py_cuda_compiler "\"${CMAKE_CUDA_COMPILER_ID} ${CMAKE_CUDA_COMPILER_VERSION}\"")
  foreach(_kind sass ptx)
    string(TOUPPER ${_kind} _upper)
    list(TRANSFORM MYKERNELS_CUDA_${_upper} PREPEND "\"" OUTPUT_VARIABLE _py_${_kind})
    list(TRANSFORM _py_${_kind} APPEND "\"")
    list(JOIN _py_${_kind} ", " _py_${_kind})
  endforeach()
endif()
list(TRANSFORM MYKERNELS_BINDINGS REPLACE "^cpython " "" OUTPUT_VARIABLE _py_bindings)
list(TRANSFORM _py_bindings PREPEND "\"")
list(TRANSFORM _py_bindings APPEND "\"")
list(JOIN _py_bindings ", " _py_bindings)
# The commit this copy was built from (with "-dirty" for uncommitted changes), where the source is a
# git checkout; None otherwise (an sdist). The benchmarks name it next to their figures.
set(_py_commit None)
find_package(Git QUIET)
if(GIT_FOUND)
  execute_process(
    COMMAND "${GIT_EXECUTABLE}" -C "${PROJECT_SOURCE_DIR}" describe --always --dirty --abbrev=12
    OUTPUT_VARIABLE _commit OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE _git_result ERROR_QUIET)
  if(_git_result EQUAL 0 AND _commit)
    set(_py_commit "\"${_commit}\"")
  endif()
endif()
configure_file("${CMAKE_CURRENT_LIST_DIR}/build_config.py.in"
  "${PROJECT_BINARY_DIR}/_build_config.py" @ONLY)
install(FILES "${PROJECT_BINARY_DIR}/_build_config.py" DESTINATION mykernels)
