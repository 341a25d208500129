// ms_cxx_workload: C++ allocation through libstdc++'s operator new and delete, which reach
// malloc and free through the PLT and so through the shim. It uses new/delete,
// new[]/delete[], a std::vector grown by push_back to about 100 MiB, strings in a std::map,
// and a failing new[] that must throw std::bad_alloc. It checks its own results and prints
// a checksum that does not depend on addresses; exit status 0 when every check passed.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <new>
#include <string>
#include <vector>

namespace {

std::uint64_t checksum = 0xcbf29ce484222325ULL;

void mix(std::uint64_t v)
{
    checksum = (checksum ^ v) * 0x100000001b3ULL;
}

void check(bool ok, const char *what)
{
    if (!ok) {
        std::fprintf(stderr, "ms_cxx_workload: FAILED: %s\n", what);
        std::exit(1);
    }
}

struct node {
    std::uint64_t value;
    node *next;
};

// A size the compiler cannot see, so that the failing new[] is not folded away.
volatile std::size_t huge_count = SIZE_MAX / 16;

void test_new_delete()
{
    node *head = nullptr;
    for (std::uint64_t i = 0; i < 200000; i++)
        head = new node{i * 3 + 1, head};
    std::uint64_t sum = 0, n = 0;
    while (head != nullptr) {
        node *next = head->next;
        sum += head->value;
        n++;
        delete head;
        head = next;
    }
    check(n == 200000, "list length");
    check(sum == 3ULL * 199999 * 200000 / 2 + 200000, "list sum");
    mix(sum);
    std::printf("new/delete: 200000 nodes, sum %llu\n", static_cast<unsigned long long>(sum));
}

void test_new_array()
{
    std::uint64_t sum = 0;
    for (int round = 0; round < 8; round++) {
        const std::size_t n = std::size_t{1} << (14 + round); // 16 Ki .. 2 Mi elements
        auto *a = new std::uint32_t[n];
        for (std::size_t i = 0; i < n; i++)
            a[i] = static_cast<std::uint32_t>(i * 2654435761u + round);
        for (std::size_t i = 0; i < n; i += 97)
            sum += a[i];
        delete[] a;
    }
    mix(sum);
    bool thrown = false;
    try {
        auto *big = new std::uint64_t[huge_count];
        big[0] = 1;
        delete[] big;
    } catch (const std::bad_alloc &) {
        thrown = true;
    }
    check(thrown, "new[] of SIZE_MAX / 16 elements did not throw std::bad_alloc");
    auto *nt = new (std::nothrow) std::uint64_t[huge_count];
    check(nt == nullptr, "nothrow new[] of SIZE_MAX / 16 elements did not return nullptr");
    std::printf("new[]/delete[]: 8 arrays, sum %llu; huge new[] threw std::bad_alloc,"
                " nothrow returned nullptr\n", static_cast<unsigned long long>(sum));
}

// push_back from empty: the vector reallocates by doubling up to 128 MiB of capacity.
void test_vector()
{
    const std::size_t n = 100u * 1024 * 1024 / sizeof(std::uint64_t);
    std::vector<std::uint64_t> v;
    std::size_t reallocations = 0;
    const std::uint64_t *data = nullptr;
    for (std::size_t i = 0; i < n; i++) {
        v.push_back(i ^ (i >> 3));
        if (v.data() != data) {
            data = v.data();
            reallocations++;
        }
    }
    std::uint64_t sum = 0;
    for (std::size_t i = 0; i < n; i++) {
        check(v[i] == (i ^ (i >> 3)), "vector contents after growth");
        sum += v[i];
    }
    check(reallocations >= 20, "vector reallocations");
    mix(sum);
    v.resize(1000);
    v.shrink_to_fit();
    check(v.size() == 1000 && v[999] == (999 ^ (999 >> 3)), "vector after shrink_to_fit");
    std::printf("vector: %zu elements (%zu MiB), sum %llu\n", n,
                n * sizeof(std::uint64_t) >> 20, static_cast<unsigned long long>(sum));
}

void test_map_strings()
{
    std::map<std::string, std::string> m;
    for (int i = 0; i < 100000; i++)
        m[std::to_string(i * 7919)] = std::string(static_cast<std::size_t>(i % 200), 'a' + i % 26);
    std::uint64_t sum = 0;
    for (const auto &kv : m)
        sum = sum * 31 + kv.first.size() + kv.second.size();
    check(m.size() == 100000, "map size");
    mix(sum);
    auto owned = std::make_unique<std::string>(std::string(64 << 20, 'x'));
    check(owned->size() == 64u << 20 && (*owned)[12345] == 'x', "64 MiB string");
    mix(owned->size());
    std::printf("map<string, string>: 100000 entries, digest %llu; one 64 MiB string\n",
                static_cast<unsigned long long>(sum));
}

} // namespace

int main()
{
    test_new_delete();
    test_new_array();
    test_vector();
    test_map_strings();
    std::printf("checksum %016llx\n", static_cast<unsigned long long>(checksum));
    return 0;
}
